"""Who is asking, and what a console response must carry: sessions, CSRF, login throttling, headers.

Sessions live in the database (monitor.store.console_users) so that signing out, disabling a user or a
restart ends them for real; the cookie holds only a random id. Every POST carries the session's CSRF
token in a form field; the cookie is SameSite=Strict as a second line. Behind an authenticating proxy,
`trusted_user_header` names the user, believed only from `trusted_proxies`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request

SESSION_COOKIE = "monitor_session"
LOGIN_COOKIE = "monitor_login"  # the login form's CSRF token, before there is a session
SESSION_LIFE = timedelta(hours=8)  # one working shift; then sign in again
ROLES = ("viewer", "operator")

# No script at all: pages are plain HTML and forms. Styles from our own file only; SVG charts use attributes.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",  # pages carry PII: no copy in a shared or back-button cache
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass(frozen=True)
class Access:
    """How the console decides who is asking."""

    trusted_user_header: str | None = None
    trusted_proxies: frozenset[str] = frozenset({"127.0.0.1", "::1"})
    secure_cookies: bool | None = None  # None: Secure when the request came over HTTPS


class SecurityHeaders:
    """ASGI middleware: every response gets HEADERS (and HSTS over HTTPS)."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower() not in HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


@dataclass
class LoginThrottle:
    """At most `attempts` failed logins per `window`, counted per client address and per user name, so
    neither one address guessing many names nor many addresses guessing one name gets far."""

    attempts: int = 5
    window: timedelta = timedelta(minutes=15)
    _failures: dict[str, deque[datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, keys: tuple[str, ...], now: datetime) -> timedelta | None:
        """How long until another attempt is allowed, or None when one is allowed now."""
        with self._lock:
            waits = [
                times[0] + self.window - now for key in keys if len(times := self._recent(key, now)) >= self.attempts
            ]
        return max(waits) if waits else None

    def failed(self, keys: tuple[str, ...], now: datetime) -> None:
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


def proxy_csrf(key: bytes, user: str) -> str:
    """The CSRF token for a proxy-authenticated user: there is no session row to keep one in."""
    return hmac.new(key, user.encode("utf-8"), hashlib.sha256).hexdigest()


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def proxied_user(request: Request, access: Access) -> str | None:
    """The name the authenticating proxy vouches for, if the request came from it."""
    if access.trusted_user_header is None or client_address(request) not in access.trusted_proxies:
        return None
    name = request.headers.get(access.trusted_user_header, "").strip()
    return name or None


def is_https(request: Request, access: Access) -> bool:
    if access.secure_cookies is not None:
        return access.secure_cookies
    if request.url.scheme == "https":
        return True
    # Behind a trusted TLS-terminating proxy the scheme arrives in X-Forwarded-Proto.
    return client_address(request) in access.trusted_proxies and request.headers.get("x-forwarded-proto") == "https"


def cookie_options(request: Request, access: Access) -> dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "secure": is_https(request, access), "path": "/"}
