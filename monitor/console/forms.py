"""The console's posted forms: urlencoded, bounded, and for an action an operator's with a good CSRF token."""

from __future__ import annotations

from urllib.parse import parse_qsl

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from monitor.console.security import same
from monitor.console.web import Console, to_login
from monitor.errors import InputError
from monitor.store.console_users import SignedIn

log = structlog.get_logger("monitor.console")
MAX_FORM = 16 * 1024  # the largest form here is a login: a few hundred bytes


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (the console's only kind), bounded; anything else reads as an empty form."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return {}
    try:
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20))
    except ValueError:  # more than 20 fields: no form of ours has that many
        raise InputError("form", "", "more than 20 fields") from None


async def operator_form(console: Console, request: Request, refusal: str) -> tuple[SignedIn, dict[str, str]] | Response:
    """The signed-in operator and the form posted, or the answer that refuses it: the sign-in page, a
    forged or missing CSRF token (403), or a viewer (403 saying `refusal`)."""
    me = await run_in_threadpool(console.who, request)
    if me is None:
        return to_login(request)
    form = await read_form(request)
    if not same(form.get("csrf"), me.csrf):
        log.warning("console_csrf_refused", user=me.user, path=request.url.path)
        return PlainTextResponse("CSRF token missing or wrong", status_code=403)
    if me.role != "operator":
        return console.error(request, me, status=403, title="Not allowed", message=refusal)
    return me, form
