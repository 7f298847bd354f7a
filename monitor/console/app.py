"""The console's routes: sign-in, the pages, the operators' actions (an update-mode token, a finding's
disposition), report downloads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qsl, quote

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from monitor.console import pages
from monitor.console.reports_download import download
from monitor.console.security import (
    LOGIN_COOKIE,
    MAX_NAME,
    SESSION_COOKIE,
    SESSION_LIFE,
    Access,
    RequestChecks,
    SecurityHeaders,
    client_address,
    cookie_options,
    new_token,
    same,
)
from monitor.console.web import Console, safe_next, to_login
from monitor.core.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from monitor.core.products import BRIDGE_PRODUCTS
from monitor.errors import InputError, MonitorError
from monitor.reports.compliance import pre_closing_rows
from monitor.reports.evidence import findings_cell
from monitor.reports.reauth import needing_reauth
from monitor.services import Context, Services
from monitor.store import console_reads, console_users
from monitor.store.audit import ACTOR
from monitor.store.console_users import SignedIn
from monitor.store.db import read_only, session
from monitor.store.handoff_payloads import FindingDict

log = structlog.get_logger("monitor.console")
Handler = Callable[[Console, Request, SignedIn], Response]


def _signed_in(console: Console, handler: Handler) -> Callable[[Request], Any]:
    """A page for any signed-in user; others are sent to the login page."""

    async def endpoint(request: Request) -> Response:
        me = await run_in_threadpool(console.who, request)
        if me is None:
            return to_login(request)
        try:
            return await run_in_threadpool(handler, console, request, me)
        except InputError as exc:
            return console.page(request, "error.html", me, status=400, title="Bad request", message=str(exc))

    return endpoint


MAX_FORM = 16 * 1024  # the largest form here is a login: a few hundred bytes


async def _form(request: Request) -> dict[str, str]:
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


def _login_page(console: Console, request: Request, *, error: str | None = None, status: int = 200) -> Response:
    token = new_token()
    response = console.page(
        request,
        "login.html",
        None,
        status=status,
        csrf=token,
        error=error,
        next=safe_next(request.query_params.get("next")),
    )
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, **cookie_options(request, console.access))
    return response


def _check_password(console: Console, name: str, password: str) -> SignedIn | None:
    """The user, if the password is right; a hash made with older parameters (scrypt) is replaced by
    today's argon2id now that the password is known."""
    row = None
    if len(name) <= MAX_NAME:
        with session(read_only(console.context.engine)) as s:
            row = console_users.user(s, name)
    # A missing user costs the same hash as a wrong password: response time does not tell which names exist.
    stored = row.password_hash if row is not None and row.password_hash and row.disabled_at is None else None
    ok = verify_password(password, stored or dummy_hash())
    if not ok or row is None or stored is None:
        return None
    if needs_rehash(stored):
        with session(console.context.engine) as s:
            console_users.rehash(s, name=row.name, old=stored, new=hash_password(password))
        log.info("console_password_rehashed", user=row.name)
    return SignedIn(user=row.name, role=row.role, csrf=new_token(), expires_at=console.now() + SESSION_LIFE)


def _throttled(console: Console, request: Request, wait_seconds: float) -> Response:
    minutes = max(1, round(wait_seconds / 60))
    when = f"{minutes} min" if wait_seconds >= 90 else f"{max(1, round(wait_seconds))} s"
    response = _login_page(console, request, error=f"Too many attempts; try again in {when}.", status=429)
    response.headers["retry-after"] = str(max(1, round(wait_seconds)))
    return response


def _login(console: Console) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        if request.method == "GET":
            if await run_in_threadpool(console.who, request) is not None:
                return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
            return _login_page(console, request)
        form = await _form(request)
        if not same(form.get("csrf"), request.cookies.get(LOGIN_COOKIE)):
            return _login_page(console, request, error="The form expired; please sign in again.", status=403)
        # Cut before any use: a 15 KB name is neither a user nor a key worth keeping.
        name, now = form.get("name", "").strip()[: MAX_NAME + 1], console.now()
        address, gate = client_address(request, console.access), console.gate
        if not gate.slot():  # every password check slot is busy: refused at once, nothing recorded
            log.warning("console_login_busy", client=address)
            return _throttled(console, request, 1)
        try:
            refused = gate.reserve(address, name, now=now.timestamp())
            if refused is not None:
                log.warning("console_login_throttled", client=address, reason=refused.reason)
                return _throttled(console, request, refused.wait_seconds)
            me = await run_in_threadpool(_check_password, console, name, form.get("password", ""))
        finally:
            gate.release()
        if me is None:
            log.warning("console_login_failed", client=address)
            return _login_page(console, request, error="Wrong name or password.", status=401)
        gate.succeeded(address, name)
        raw = new_token()
        with session(console.context.engine) as s:
            console_users.open_session(s, raw=raw, user_name=me.user, csrf=me.csrf, now=now, expires_at=me.expires_at)
        log.info("console_login", user=me.user, role=me.role)
        response = RedirectResponse(safe_next(form.get("next")), status_code=303)
        options = cookie_options(request, console.access)
        response.set_cookie(SESSION_COOKIE, raw, max_age=int(SESSION_LIFE.total_seconds()), **options)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    return endpoint


def _logout(console: Console) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        me = await run_in_threadpool(console.who, request)
        form = await _form(request)
        if me is None or not same(form.get("csrf"), me.csrf):
            return PlainTextResponse("CSRF token missing or wrong", status_code=403)
        raw = request.cookies.get(SESSION_COOKIE)
        if raw:
            with session(console.context.engine) as s:
                console_users.close_session(s, raw)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return endpoint


def _confirm_token(console: Console, request: Request, me: SignedIn) -> Response:
    """The confirmation form (a GET never creates a token); it says which tokens were issued already."""
    loan_id = request.path_params["loan_id"]
    if me.role != "operator":
        return console.page(request, "error.html", me, status=403, title="Not allowed", message=_VIEWER)
    return _token_form(console, request, me, loan_id)


def _token_form(
    console: Console, request: Request, me: SignedIn, loan_id: str, *, status: int = 200, again: bool = False
) -> Response:
    rows = [r for r in needing_reauth(console.context, now=console.now()) if r["loan_id"] == loan_id]
    with session(read_only(console.context.engine)) as s:
        issued = console_reads.tokens_issued(s, [loan_id])
        seen = console_reads.last_token_issued(s, loan_id)
    return console.page(
        request,
        "token_confirm.html",
        me,
        status=status,
        loan_id=loan_id,
        rows=rows,
        issued=[i for i in issued if any(i.at >= r["since"] for r in rows)] if rows else issued[:5],
        seen=seen,
        again=again,
    )


_VIEWER = (
    "Viewers read; only an operator may create update-mode tokens (monitor console add-user NAME --role operator)."
)


async def _operator_form(
    console: Console, request: Request, refusal: str
) -> tuple[SignedIn, dict[str, str]] | Response:
    """The signed-in operator and the form posted, or the answer that refuses it: the sign-in page, a
    forged or missing CSRF token (403), or a viewer (403 saying `refusal`)."""
    me = await run_in_threadpool(console.who, request)
    if me is None:
        return to_login(request)
    form = await _form(request)
    if not same(form.get("csrf"), me.csrf):
        log.warning("console_csrf_refused", user=me.user, path=request.url.path)
        return PlainTextResponse("CSRF token missing or wrong", status_code=403)
    if me.role != "operator":
        return console.page(request, "error.html", me, status=403, title="Not allowed", message=refusal)
    return me, form


def _create_token(console: Console) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        signed = await _operator_form(console, request, _VIEWER)
        if isinstance(signed, Response):
            return signed
        me, form = signed
        if form.get("confirm") != "yes":
            return console.page(
                request, "error.html", me, status=400, title="Not confirmed", message="Tick the box to confirm."
            )
        loan_id = request.path_params["loan_id"]
        seen = form.get("seen", "")
        if not (seen.isascii() and seen.isdigit() and len(seen) <= 18):
            return console.page(request, "error.html", me, status=400, title="Form out of date", message=_OUT_OF_DATE)
        # No choice (or "auto"): each connection's own product, `assets` for a financial account.
        chosen = form.get("product") or "auto"
        product = None if chosen == "auto" else str(chosen)
        if product is not None and product not in BRIDGE_PRODUCTS:
            return console.page(
                request, "error.html", me, status=400, title="Bad request", message=f"unknown product {product!r}"
            )
        try:
            tokens = await run_in_threadpool(_tokens_as, console, me, loan_id, product, int(seen))
        except AlreadyIssued:
            # A reload of the answer, a second click, or another operator first: nothing new is created,
            # and the token already handed out is named with its time (its value was shown once, never kept).
            return await run_in_threadpool(_token_form, console, request, me, loan_id, status=409, again=True)
        except MonitorError as exc:
            return console.page(request, "error.html", me, status=409, title="No token created", message=str(exc))
        console.cached.clear()
        return console.page(request, "token_created.html", me, loan_id=loan_id, tokens=tokens)

    return endpoint


_VIEWER_FINDINGS = "Viewers read; only an operator may acknowledge or resolve a finding."


def _dispose(console: Console) -> Callable[[Request], Any]:
    """Acknowledge or resolve a finding with a note (operators, CSRF), audited as `console:NAME`."""

    async def endpoint(request: Request) -> Response:
        signed = await _operator_form(console, request, _VIEWER_FINDINGS)
        if isinstance(signed, Response):
            return signed
        me, form = signed
        finding_id = request.path_params["finding_id"]
        try:
            done = await run_in_threadpool(
                _dispose_as, console, me, finding_id, form.get("action", ""), form.get("note", "")
            )
        except InputError as exc:
            return console.page(request, "error.html", me, status=400, title="Not changed", message=str(exc))
        console.cached.clear()
        return RedirectResponse(
            f"/changes?loan={quote(done['loan_id'], safe='')}#finding-{finding_id}", status_code=303
        )

    return endpoint


def _dispose_as(console: Console, me: SignedIn, finding_id: int, action: str, note: str) -> FindingDict:
    from monitor.jobs.disposition import dispose_finding

    ACTOR.set(f"console:{me.user}")  # this thread's copy only
    done = dispose_finding(console.context, finding_id, action=action, note=note)
    log.info("console_finding_disposed", user=me.user, action=action)
    return done


_OUT_OF_DATE = "This form is from an older page; open the loan's token page from the re-auth queue again."


class AlreadyIssued(Exception):
    """A token was issued for the loan after the confirmation form was shown."""


def _tokens_as(console: Console, me: SignedIn, loan_id: str, product: str | None, seen: int) -> list[dict[str, Any]]:
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


def _report(console: Console, request: Request, me: SignedIn) -> Response:
    params = request.query_params
    if "from" not in params:
        today = console.now().date()
        return _report_page(console, request, me, start=today.replace(day=1), end=_month_end(today))
    try:
        start, end = date.fromisoformat(params["from"]), date.fromisoformat(params.get("to", ""))
    except ValueError:
        raise InputError("from/to", "", "expected dates YYYY-MM-DD") from None
    if not (REPORT_YEARS[0] <= start.year and end.year <= REPORT_YEARS[1]):
        raise InputError("from/to", "", f"expected dates from {REPORT_YEARS[0]} to {REPORT_YEARS[1]}")
    if end < start:
        raise InputError("to", "", f"{end} is before from {start}")
    if params.get("format") == "page":
        return _report_page(console, request, me, start=start, end=end)
    return download(console.context, start=start, end=end, fmt=params.get("format", "html"), now=console.now())


def _month_end(day: date) -> date:
    first_next = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)


def _report_page(console: Console, request: Request, me: SignedIn, *, start: date, end: date) -> Response:
    """The download form, and the pre-closing evidence of the loans closing in the period, as the report has it."""
    rows = pre_closing_rows(console.context, start=start, end=end, now=console.now())
    for r in rows:  # fresh rows, shown as text: the findings with their disposition, note and who
        r["findings"] = findings_cell(r["findings"]) or None
        r["employers_verified"] = "; ".join(r["employers_verified"]) or None
    return console.page(request, "reports.html", me, start=start, end=end, closing=rows)


REPORT_YEARS = (1900, 2200)  # the loan dates an import accepts; past them a report's date arithmetic overflows


class _SecuredStarlette(Starlette):
    """Starlette whose every answer, its own 500 page included, carries the security headers: the
    headers wrap the whole app, outside the error middleware Starlette puts outermost."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await SecurityHeaders(super().__call__)(scope, receive, send)


def _error_handlers(console: Console) -> dict[Any, Callable[[Request, Exception], Any]]:
    def bad_request(request: Request, exc: Exception) -> Response:
        return console.page(request, "error.html", None, status=400, title="Bad request", message=str(exc))

    def server_error(request: Request, exc: Exception) -> Response:
        log.error("console_error", path=request.url.path, error=type(exc).__name__)
        return PlainTextResponse("Internal error; see the console's log.", status_code=500)

    return {InputError: bad_request, 500: server_error}


def create_app(context: Context, *, services: Services | None = None, access: Access | None = None) -> Starlette:
    """The console over `context` (reads); `services` adds the Truv client the token action needs."""
    console = Console(context=context, services=services, access=access or Access())
    read = [
        ("/", pages.overview),
        ("/loans", pages.loans),
        ("/loans/{loan_id:path}", pages.loan),
        ("/reauth", pages.reauth),
        ("/reauth/{loan_id:path}/token", _confirm_token),
        ("/changes", pages.changes),
        ("/ledger", pages.ledger),
        ("/audit", pages.audit_page),
        ("/reports", _report),
    ]
    routes: list[BaseRoute] = [Route(path, _signed_in(console, handler)) for path, handler in read]
    routes += [
        Route("/reauth/{loan_id:path}/token", _create_token(console), methods=["POST"]),
        Route("/changes/{finding_id:int}", _dispose(console), methods=["POST"]),
        Route("/login", _login(console), methods=["GET", "POST"]),
        Route("/logout", _logout(console), methods=["POST"]),
        Route("/healthz", lambda request: PlainTextResponse("ok")),
        Mount("/static", StaticFiles(directory=str(files("monitor.console") / "static")), name="static"),
    ]
    app = _SecuredStarlette(routes=routes, exception_handlers=_error_handlers(console))
    app.add_middleware(RequestChecks, access=console.access)
    return app
