"""What every console handler shares: the app's state, templates, who is signed in, refusals."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from monitor.console.cache import Cached
from monitor.console.page_data import ErrorPage
from monitor.console.rendering import environment
from monitor.console.security import SESSION_COOKIE, Access, SignInGate, proxied_user, proxy_csrf
from monitor.services import Context, Services
from monitor.store import console_users
from monitor.store.console_users import SignedIn
from monitor.store.db import read_only, session

# What a template reads besides `me`, `path` and `proxied`: each page's own values, by name.
PageData = Mapping[str, object]
Endpoint = Callable[[Request], Awaitable[Response]]  # a route's answer to a request


@dataclass
class Console:
    """The console's state: what it reads with, who may act, and the per-process secrets."""

    context: Context
    services: Services | None  # with a Truv client: only needed to create update-mode tokens
    access: Access
    gate: SignInGate = field(default_factory=SignInGate)
    env: Environment = field(default_factory=environment)
    proxy_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    cached: Cached = field(default_factory=Cached)
    token_lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return self.context.clock.now()

    def who(self, request: Request) -> SignedIn | None:
        """The signed-in user: from the trusted proxy's header, else from the session cookie."""
        now = self.now()
        name = proxied_user(request, self.access)
        with session(read_only(self.context.engine)) as s:
            if name is not None:
                row = console_users.user(s, name)
                if row is None or row.disabled_at is not None:
                    return None
                return SignedIn(user=row.name, role=row.role, csrf=proxy_csrf(self.proxy_key, row.name), expires_at=now)
            raw = request.cookies.get(SESSION_COOKIE)
            return console_users.signed_in(s, raw, now=now) if raw else None

    def page(
        self, request: Request, template: str, me: SignedIn | None, data: PageData, *, status: int = 200
    ) -> Response:
        """`template` over `data`, beside what every page shows: who is signed in, where, how."""
        shared = {"me": me, "path": request.url.path, "proxied": self.access.trusted_user_header is not None}
        body = self.env.get_template(template).render({**shared, **data})
        return HTMLResponse(body, status_code=status)

    def error(self, request: Request, me: SignedIn | None, *, status: int, title: str, message: str) -> Response:
        return self.page(request, "error.html", me, ErrorPage(title=title, message=message), status=status)


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def safe_next(value: str | None) -> str:
    """Only a path on this console: an open redirect would let a link send a signed-in user anywhere."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
