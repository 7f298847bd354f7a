"""The operators' finding action: acknowledge or resolve a finding with a note (operators, CSRF),
audited as `console:NAME`."""

from __future__ import annotations

from urllib.parse import quote

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.console.forms import operator_form
from monitor.console.web import Console, Endpoint
from monitor.errors import InputError
from monitor.store.audit import ACTOR
from monitor.store.console_users import SignedIn

log = structlog.get_logger("monitor.console")
_VIEWER_FINDINGS = "Viewers read; only an operator may acknowledge or resolve a finding."


def dispose(console: Console) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        signed = await operator_form(console, request, _VIEWER_FINDINGS)
        if isinstance(signed, Response):
            return signed
        me, form = signed
        finding_id = request.path_params["finding_id"]
        try:
            loan_id = await run_in_threadpool(
                _dispose_as, console, me, finding_id, form.get("action", ""), form.get("note", "")
            )
        except InputError as exc:
            return console.error(request, me, status=400, title="Not changed", message=str(exc))
        console.cached.clear()
        return RedirectResponse(f"/changes?loan={quote(loan_id, safe='')}#finding-{finding_id}", status_code=303)

    return endpoint


def _dispose_as(console: Console, me: SignedIn, finding_id: int, action: str, note: str) -> str:
    """The finding moved; its loan's id (the changes page goes back to that loan)."""
    from monitor.jobs.disposition import dispose_finding

    ACTOR.set(f"console:{me.user}")  # this thread's copy only
    done = dispose_finding(console.context, finding_id, action=action, note=note)
    log.info("console_finding_disposed", user=me.user, action=action)
    return str(done["loan_id"])
