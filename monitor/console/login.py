"""Signing in and out: the login form (its own CSRF cookie), the throttled password check (argon2id,
an old scrypt hash replaced once the password is known), the session cookie."""

from __future__ import annotations

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from monitor.console.forms import read_form
from monitor.console.page_data import LoginPage
from monitor.console.security import (
    LOGIN_COOKIE,
    MAX_NAME,
    SESSION_COOKIE,
    SESSION_LIFE,
    client_address,
    cookie_options,
    new_token,
    same,
)
from monitor.console.web import Console, Endpoint, safe_next
from monitor.core.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from monitor.store import console_users
from monitor.store.console_users import SignedIn
from monitor.store.db import read_only, session

log = structlog.get_logger("monitor.console")


def _login_page(console: Console, request: Request, *, error: str | None = None, status: int = 200) -> Response:
    token = new_token()
    shown = LoginPage(csrf=token, error=error, next=safe_next(request.query_params.get("next")))
    response = console.page(request, "login.html", None, shown, status=status)
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


def login(console: Console) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        if request.method == "GET":
            if await run_in_threadpool(console.who, request) is not None:
                return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
            return _login_page(console, request)
        form = await read_form(request)
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


def logout(console: Console) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        me = await run_in_threadpool(console.who, request)
        form = await read_form(request)
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
