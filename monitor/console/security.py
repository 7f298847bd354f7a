"""Who is asking, and what a console response must carry: sessions, CSRF, login throttling, headers.

Sessions live in the database (monitor.store.console_users) so that signing out, disabling a user or a
restart ends them for real; the cookie holds only a random id. Every POST carries the session's CSRF
token in a form field; the cookie is SameSite=Strict as a second line. Behind an authenticating proxy,
`trusted_user_header` names the user, believed only from `trusted_proxies`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypedDict

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
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
    trusted_proxies: frozenset[str] = frozenset()  # none unless configured: any local process could send it
    secure_cookies: bool | None = None  # None: Secure when the request came over HTTPS
    allowed_hosts: frozenset[str] | None = None  # Host header values served (no port); None: any


LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(value: str) -> str:
    """A Host header without its port, lower case: `[::1]:8081` is `::1`, `Example.com:80` `example.com`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _plain_refusal(status: int, text: str) -> list[MutableMapping[str, Any]]:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    return [
        {"type": "http.response.start", "status": status, "headers": [*headers, (b"connection", b"close")]},
        {"type": "http.response.body", "body": body},
    ]


class RequestChecks:
    """ASGI middleware: a Host the console is not served as, or an identity header sent more than once
    (which copy would the proxy have meant?), is refused 400 before anything reads the request."""

    def __init__(self, app: Callable[..., Awaitable[None]], access: Access) -> None:
        self.app, self.access = app, access

    def problem(self, headers: list[tuple[bytes, bytes]]) -> str | None:
        names = [k.decode("latin-1").lower() for k, _ in headers]
        identity = (self.access.trusted_user_header or "").lower()
        if identity and names.count(identity) > 1:
            return f"{self.access.trusted_user_header} sent more than once"
        if self.access.allowed_hosts is not None:
            hosts = [v.decode("latin-1") for k, v in headers if k.lower() == b"host"]
            if len(hosts) != 1 or host_name(hosts[0]) not in self.access.allowed_hosts:
                return "this console is not served under that Host (see --allowed-hosts)"
        return None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        problem = self.problem(scope.get("headers", [])) if scope["type"] == "http" else None
        if problem is None:
            await self.app(scope, receive, send)
            return
        for message in _plain_refusal(400, f"Bad request: {problem}\n"):
            await send(message)


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


HASHES_AT_ONCE = 2  # password checks running at once: 2 x 19 MiB (argon2id); the rest are answered 429 at once
MAX_NAME = 128  # the longest user name `console add-user` accepts; longer ones are cut before any use
MAX_KEYS = 50_000  # limiter keys held at most (each a few hundred bytes); past it, new addresses wait


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a sign-in was answered 429 before any password was checked, and when to come back."""

    reason: str
    wait_seconds: float


class SignInGate:
    """Who may have a password checked now. Kept by `limits` (moving windows, in memory):

    - per (address, name): 5 attempts per 15 minutes; a correct password clears it;
    - per address: 20 attempts per 15 minutes, whatever the names (one address guessing many names);
    - per name: past 5 failures in 15 minutes the name is under attack, and it slows down rather than
      locks: an address with no attempt on its record in the window is still checked at once (the user
      from their usual desk gets in), any other gets one check per 10 seconds for that name.

    An attempt is reserved before the password is hashed, in one step under a lock, so parallel guesses
    cannot all pass a check made before any of them is counted; a refusal records nothing, so a flood of
    refused requests holds no memory. At most `hashes` checks run at once; the next is refused at once
    (`slot`), never queued. Keys expire with their window; addresses are IPv6 /64s (one host holds a whole
    /64) and names are cut at MAX_NAME, so memory is bounded by MAX_KEYS keys.
    """

    PAIR = parse("5 per 15 minutes")
    ADDRESS = parse("20 per 15 minutes")
    NAME = parse("5 per 15 minutes")
    HOT_NAME = parse("1 per 10 seconds")

    def __init__(self, hashes: int = HASHES_AT_ONCE, max_keys: int = MAX_KEYS) -> None:
        self.storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.max_keys = max_keys
        self._slots = threading.BoundedSemaphore(hashes)
        self._lock = threading.Lock()

    def slot(self) -> bool:
        """Take one of the password-check slots, if one is free (never waits)."""
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        self._slots.release()

    def keys(self) -> int:
        """How many limiter keys are held (a figure for tests and the bound above)."""
        return len(self.storage.events)

    def _wait(self, item: RateLimitItem, ids: tuple[str, ...], now: float) -> float:
        return max(1.0, self.limiter.get_window_stats(item, *ids).reset_time - now)

    def reserve(self, address: str, name: str, *, now: float) -> Refused | None:
        """Count this attempt against every limit, or refuse it without counting anything."""
        name = name[:MAX_NAME].lower()
        lim = self.limiter
        with self._lock:
            for item, ids, reason in (
                (self.PAIR, (address, name), "name_from_address"),
                (self.ADDRESS, (address,), "address"),
            ):
                if not lim.test(item, *ids):
                    return Refused(reason, self._wait(item, ids, now))
            if self.keys() >= self.max_keys and lim.test(self.ADDRESS, address):  # a new address, storage full
                return Refused("busy", 60.0)
            if not lim.test(self.NAME, name):
                clean = lim.get_window_stats(self.ADDRESS, address).remaining == self.ADDRESS.amount
                if not clean and not lim.hit(self.HOT_NAME, name):
                    return Refused("name_under_attack", self._wait(self.HOT_NAME, (name,), now))
            lim.hit(self.PAIR, address, name)
            lim.hit(self.ADDRESS, address)
            lim.hit(self.NAME, name)  # refused (and not recorded) once the name is over its limit
        return None

    def succeeded(self, address: str, name: str) -> None:
        """The right password: the name's failures from this address, and on the name, are forgotten."""
        name = name[:MAX_NAME].lower()
        with self._lock:
            self.limiter.clear(self.PAIR, address, name)
            self.limiter.clear(self.NAME, name)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


def proxy_csrf(key: bytes, user: str) -> str:
    """The CSRF token for a proxy-authenticated user: there is no session row to keep one in."""
    return hmac.new(key, user.encode("utf-8"), hashlib.sha256).hexdigest()


def peer_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(request: Request, access: Access) -> str:
    """The address a sign-in is counted against: the peer, or behind a trusted proxy the nearest address
    in X-Forwarded-For that is not a trusted proxy (the proxy appends the address it saw; anything to its
    left the client wrote itself). IPv6 as its /64: one host commonly holds the whole prefix."""
    address = peer_address(request)
    if address in access.trusted_proxies:
        forwarded = ",".join(request.headers.getlist("x-forwarded-for"))[:4096].split(",")
        for hop in reversed(forwarded):
            if (ip := _ip(hop)) is not None:
                address = str(ip)
                if address not in access.trusted_proxies:
                    break
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address[:64]


def proxied_user(request: Request, access: Access) -> str | None:
    """The name the authenticating proxy vouches for, if the request came from it."""
    if access.trusted_user_header is None or peer_address(request) not in access.trusted_proxies:
        return None
    sent = request.headers.getlist(access.trusted_user_header)
    name = sent[0].strip() if len(sent) == 1 else ""  # twice is refused 400 by RequestChecks; never a pick
    return name or None


def is_https(request: Request, access: Access) -> bool:
    if access.secure_cookies is not None:
        return access.secure_cookies
    if request.url.scheme == "https":
        return True
    # Behind a trusted TLS-terminating proxy the scheme arrives in X-Forwarded-Proto.
    return peer_address(request) in access.trusted_proxies and request.headers.get("x-forwarded-proto") == "https"


class CookieOptions(TypedDict):
    """`Response.set_cookie`'s options for the console's cookies."""

    httponly: bool
    samesite: Literal["lax", "strict", "none"]
    secure: bool
    path: str


def cookie_options(request: Request, access: Access) -> CookieOptions:
    return {"httponly": True, "samesite": "strict", "secure": is_https(request, access), "path": "/"}
