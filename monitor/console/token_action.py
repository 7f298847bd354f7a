"""The operators' token action: the confirmation form (a GET never creates a token), then update-mode
tokens created for a loan's connections, audited as `console:NAME`, once per form shown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from monitor.console.forms import operator_form
from monitor.console.page_data import TokenConfirmPage, TokenCreatedPage
from monitor.console.web import Console, Endpoint
from monitor.core.products import BRIDGE_PRODUCTS
from monitor.errors import MonitorError
from monitor.reports.reauth import needing_reauth
from monitor.store import console_reads
from monitor.store.audit import ACTOR
from monitor.store.console_users import SignedIn
from monitor.store.db import read_only, session

log = structlog.get_logger("monitor.console")
VIEWER = "Viewers read; only an operator may create update-mode tokens (monitor console add-user NAME --role operator)."
_OUT_OF_DATE = "This form is from an older page; open the loan's token page from the re-auth queue again."


class AlreadyIssued(Exception):
    """A token was issued for the loan after the confirmation form was shown."""


def confirm_token(console: Console, request: Request, me: SignedIn) -> Response:
    """The confirmation form (a GET never creates a token); it says which tokens were issued already."""
    loan_id = request.path_params["loan_id"]
    if me.role != "operator":
        return console.error(request, me, status=403, title="Not allowed", message=VIEWER)
    return _token_form(console, request, me, loan_id)


def _token_form(
    console: Console, request: Request, me: SignedIn, loan_id: str, *, status: int = 200, again: bool = False
) -> Response:
    rows = [r for r in needing_reauth(console.context, now=console.now()) if r["loan_id"] == loan_id]
    with session(read_only(console.context.engine)) as s:
        issued = console_reads.tokens_issued(s, [loan_id])
        seen = console_reads.last_token_issued(s, loan_id)
    waits = [r["since"] for r in rows]
    since_waiting = [i for i in issued if any(w is not None and i.at >= w for w in waits)]
    shown = TokenConfirmPage(
        loan_id=loan_id, rows=rows, issued=since_waiting if rows else issued[:5], seen=seen, again=again
    )
    return console.page(request, "token_confirm.html", me, shown, status=status)


def _form_problem(form: Mapping[str, str]) -> tuple[str, str] | None:
    """Why the posted form cannot be acted on (a title and a message), or None."""
    if form.get("confirm") != "yes":
        return "Not confirmed", "Tick the box to confirm."
    seen = form.get("seen", "")
    if not (seen.isascii() and seen.isdigit() and len(seen) <= 18):
        return "Form out of date", _OUT_OF_DATE
    product = _product(form)
    if product is not None and product not in BRIDGE_PRODUCTS:
        return "Bad request", f"unknown product {product!r}"
    return None


def _product(form: Mapping[str, str]) -> str | None:
    """No choice (or "auto"): each connection's own product, `assets` for a financial account."""
    chosen = form.get("product") or "auto"
    return None if chosen == "auto" else str(chosen)


def create_token(console: Console) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        signed = await operator_form(console, request, VIEWER)
        if isinstance(signed, Response):
            return signed
        me, form = signed
        refused = _form_problem(form)
        if refused is not None:
            return console.error(request, me, status=400, title=refused[0], message=refused[1])
        loan_id = request.path_params["loan_id"]
        try:
            tokens = await run_in_threadpool(_tokens_as, console, me, loan_id, _product(form), int(form["seen"]))
        except AlreadyIssued:
            # A reload of the answer, a second click, or another operator first: nothing new is created,
            # and the token already handed out is named with its time (its value was shown once, never kept).
            return await run_in_threadpool(_token_form, console, request, me, loan_id, status=409, again=True)
        except MonitorError as exc:
            return console.error(request, me, status=409, title="No token created", message=str(exc))
        console.cached.clear()
        return console.page(request, "token_created.html", me, TokenCreatedPage(loan_id=loan_id, tokens=tokens))

    return endpoint


def _tokens_as(
    console: Console, me: SignedIn, loan_id: str, product: str | None, seen: int
) -> Sequence[Mapping[str, object]]:
    """Create the tokens with the audit trail naming the operator (this thread's copy of ACTOR only),
    unless one was issued since the form was shown (`seen`: the newest issue the form knew of)."""
    from monitor.jobs.reauth import create_tokens

    if console.services is None:
        raise MonitorError("this console has no Truv client (TRUV_CLIENT_ID and TRUV_SECRET)")
    ACTOR.set(f"console:{me.user}")
    # One creation at a time in this console: a double click cannot pass the check twice before either writes.
    with console.token_lock:
        with session(read_only(console.context.engine)) as s:
            if console_reads.last_token_issued(s, loan_id) > seen:
                raise AlreadyIssued
        tokens = create_tokens(console.services, loan_id=loan_id, product=product)
    log.info("console_reauth_token", user=me.user, tokens=len(tokens))
    return tokens
