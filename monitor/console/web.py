"""What every console handler shares: the app's state, templates, who is signed in, refusals."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from importlib.resources import files
from types import MappingProxyType
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from monitor.console.cache import Cached
from monitor.console.security import SESSION_COOKIE, Access, SignInGate, proxied_user, proxy_csrf
from monitor.core.readable import duration_text, zone_label
from monitor.reports.safe_text import show_bidi
from monitor.services import Context, Services
from monitor.store import console_users
from monitor.store.console_users import SignedIn
from monitor.store.db import read_only, session

TEMPLATES = files("monitor.console") / "templates"
# What a template reads besides `me`, `path` and `proxied`: each page's own values, by name.
PageData = Mapping[str, object]
NOTHING: PageData = MappingProxyType({})
Endpoint = Callable[[Request], Awaitable[Response]]  # a route's answer to a request


def _when(value: object, tz: tzinfo | None = None) -> str:
    """A time as a table cell: minutes, one zone, labelled."""
    if not isinstance(value, datetime):
        return "-" if value is None else str(value)
    return f"{value.astimezone(tz).strftime('%Y-%m-%d %H:%M')} {zone_label(tz) if tz else 'UTC'}"


def _plain(value: object) -> str:
    """A nested value as a reader reads it: `blocked: token_budget 1, product_not_allowed 1`; empty is "-"."""
    if isinstance(value, dict):
        parts = [f"{k} {_plain(v)}" if not isinstance(v, dict) else f"{k}: {_plain(v)}" for k, v in value.items()]
        return ", ".join(parts) if parts else "-"
    if isinstance(value, list | tuple | set):
        return ", ".join(_plain(v) for v in value) if value else "-"
    if isinstance(value, datetime):
        return _when(value)
    return "-" if value is None else str(value)


def _shown(value: object) -> object:
    """Every `{{ }}` output: bidi controls written out (as in the reports), so a loan id or a reason from
    outside cannot reorder what a reader sees; then Jinja escapes it. Markup (a macro's output) is ours."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return show_bidi(value)
    return value


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        finalize=_shown,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["plain"] = _plain
    env.filters["duration"] = duration_text
    env.filters["q"] = lambda value: quote(str(value), safe="")
    return env


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
        self, request: Request, template: str, me: SignedIn | None, data: PageData = NOTHING, *, status: int = 200
    ) -> Response:
        """`template` over `data`, beside what every page shows: who is signed in, where, how."""
        shared = {"me": me, "path": request.url.path, "proxied": self.access.trusted_user_header is not None}
        body = self.env.get_template(template).render({**shared, **data})
        return HTMLResponse(body, status_code=status)

    def error(self, request: Request, me: SignedIn | None, *, status: int, title: str, message: str) -> Response:
        return self.page(request, "error.html", me, {"title": title, "message": message}, status=status)


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def safe_next(value: str | None) -> str:
    """Only a path on this console: an open redirect would let a link send a signed-in user anywhere."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
