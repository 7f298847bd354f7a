"""Truv's HTTP API as the job needs it: typed errors, pacing, safe retries, no blind re-sends."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from monitor.clock import Clock
from monitor.core.changes import Snapshot
from monitor.errors import (
    TruvAuthError,
    TruvForbidden,
    TruvNotFound,
    TruvNotSent,
    TruvOutcomeUnknown,
    TruvRefused,
    TruvThrottled,
    TruvUnavailable,
    TruvUnreachable,
    is_refresh_limit_message,
)
from monitor.truv.pacer import Pacer

if TYPE_CHECKING:
    from monitor.store.pace import SharedPacer
from monitor.truv.report_wire import parse_report
from monitor.truv.secrets import redact_text, token_hash
from monitor.truv.wire import LinkInfo, OrderInfo, parse_link, parse_order

log = structlog.get_logger("monitor.truv")

_DRF_WAIT = re.compile(r"available in (\d+(?:\.\d+)?) second")
# Errors that mean the request never left this machine: the connection was never established.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
# A 403 concerns one resource; only when this many calls in a row, from the first, all get one is the
# key itself wrong for the environment (DESIGN.md rule 13).
FORBIDDEN_PROBE = 5
# Connection failures or timeouts in a row, across threads, after which Truv is taken as unreachable.
MAX_CONSECUTIVE_FAILURES = 10


@dataclass
class CallStats:
    requests: int = 0
    throttled: int = 0
    retries: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)


def build_http(base_url: str, client_id: str, secret: str, timeout: float, **kwargs: Any) -> httpx.Client:
    return httpx.Client(
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        headers={
            "X-Access-Client-Id": client_id,
            "X-Access-Secret": secret,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "monitor/0.1",
        },
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        **kwargs,
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After (seconds or HTTP date), else DRF's 'Expected available in N seconds.'"""
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                when = parsedate_to_datetime(header)
                date = response.headers.get("Date")
                base = parsedate_to_datetime(date) if date else None
                if base is not None:
                    return max(0.0, (when - base).total_seconds())
            except (TypeError, ValueError):
                pass
    match = _DRF_WAIT.search(response.text or "")
    return float(match.group(1)) if match else None


def _error_fields(response: httpx.Response) -> tuple[str | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, redact_text((response.text or "")[:200]) or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        message = str(err.get("message") or "")
        params = (err.get("extra") or {}).get("invalid-params") or []
        details = "; ".join(f"{p.get('field')}: {p.get('message')}" for p in params if isinstance(p, dict))
        return err.get("code"), redact_text(f"{message} ({details})" if details else message)
    if isinstance(body, dict) and "detail" in body:
        return None, redact_text(str(body["detail"]))
    return None, response.reason_phrase


class TruvClient:
    """All calls share one Pacer; GETs retry, the refresh POST never repeats after it may have landed."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        pacer: Pacer | SharedPacer,
        clock: Clock,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES,
    ) -> None:
        self.http = http
        self.pacer = pacer
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.stats = CallStats()
        # Until some call is answered with anything but 403, calls go one at a time, so a key that
        # is 403 everywhere is found within FORBIDDEN_PROBE calls, not after a burst of them.
        self._probe = threading.Lock()
        self._key_ok = False
        self._forbidden_streak = 0
        # Fail fast: connection failures and timeouts in a row, whichever thread saw them; any answer resets.
        self.max_consecutive_failures = max_consecutive_failures
        self._reach_lock = threading.Lock()
        self._failure_streak = 0
        self._unreachable: str | None = None  # the message every further call raises, once tripped
        # Until Truv has answered once, calls go one at a time (the probe above): a connection failure
        # is then not retried with backoff, or a wrong base URL would take minutes to trip the count.
        self._ever_answered = False

    # -- public calls -------------------------------------------------------------------------

    def get_order(self, order_id: str, *, purpose: str = "details") -> OrderInfo:
        """`purpose` only labels the call in the statistics (details, poll, reconcile)."""
        return self._parsed(parse_order, self._call("GET", f"orders/{order_id}/", endpoint=f"get_order_{purpose}"))

    def get_link_report(self, link_id: str, *, product: str, fallback_as_of: datetime) -> Snapshot:
        """GET /v1/links/{id}/income/report/ (employment: .../employment/report/): the fields monitoring keeps.

        A GET, so retried when safe; the report's access_token is dropped by the parser.
        """
        kind = "employment" if product == "employment" else "income"
        data = self._call("GET", f"links/{link_id}/{kind}/report/", endpoint=f"get_{kind}_report")
        try:
            return parse_report(data, fallback_as_of=fallback_as_of)
        except ValueError as exc:
            raise TruvUnavailable(f"Truv sent a report we cannot read: {exc}") from None

    def get_link(self, link_id: str) -> LinkInfo:
        return self._parsed(parse_link, self._call("GET", f"links/{link_id}/", endpoint="get_link"))

    def refresh(
        self,
        order_id: str,
        *,
        product: str,
        employers: list[dict[str, str]] | None = None,
        financial_accounts: list[dict[str, str]] | None = None,
        before_send: Callable[[], None] | None = None,
    ) -> OrderInfo:
        """POST /v1/orders/{id}/: a new order, or TruvOutcomeUnknown / TruvNotSent / TruvRefused.

        `before_send` runs before each attempt (a 429 is re-sent), once the pace allows it: the
        ledger moves the reservation's counting time to the moment the request may reach Truv.
        """
        body: dict[str, Any] = {"products": [product]}
        if employers is not None:
            body["employers"] = employers
        if financial_accounts is not None:
            body["financial_accounts"] = financial_accounts
        data = self._call(
            "POST", f"orders/{order_id}/", json_body=body, idempotent=False, endpoint="refresh", before_send=before_send
        )
        try:
            return parse_order(data)
        except ValueError as exc:
            raise TruvOutcomeUnknown(f"refresh of {order_id}: answer had no order id ({exc})") from None

    def access_token_for(self, order_id: str, wanted_hash: str) -> str:
        """The raw access token of one connection, read fresh from the order and never stored."""
        data = self._call("GET", f"orders/{order_id}/", endpoint="get_order_token")
        for group in ("employers", "financial_accounts"):
            for item in (data or {}).get(group) or []:
                token = item.get("access_token") if isinstance(item, dict) else None
                if isinstance(token, str) and token and token_hash(token) == wanted_hash:
                    return token
        raise TruvNotFound(f"order {order_id} no longer lists that connection")

    def create_bridge_token(self, user_id: str, *, product_type: str, access_token: str) -> dict[str, Any]:
        body = {"product_type": product_type, "access_token": access_token}
        # Creating a bridge token spends no budget, so a repeat after a lost answer is harmless.
        data = self._call("POST", f"users/{user_id}/tokens/", json_body=body, idempotent=True, endpoint="bridge_token")
        if not isinstance(data, dict) or "bridge_token" not in data:
            raise TruvUnavailable("Truv's bridge token answer had no bridge_token")
        return data

    # -- machinery ----------------------------------------------------------------------------

    @staticmethod
    def _parsed(parser: Any, data: Any) -> Any:
        try:
            return parser(data)
        except ValueError as exc:
            raise TruvUnavailable(f"Truv sent an object we cannot read: {exc}") from None

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1))))

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        idempotent: bool = True,
        endpoint: str,
        before_send: Callable[[], None] | None = None,
    ) -> Any:
        if self._key_ok:
            return self._attempts(method, path, json_body, idempotent, endpoint, before_send)
        with self._probe:
            return self._attempts(method, path, json_body, idempotent, endpoint, before_send)

    @property
    def unreachable(self) -> str | None:
        """Why Truv is taken as unreachable (every call now raises TruvUnreachable), or None."""
        return self._unreachable

    def reset_reachability(self, max_consecutive_failures: int | None = None) -> None:
        """A new pass starts with a clean count (one client may serve several passes)."""
        with self._reach_lock:
            if max_consecutive_failures is not None:
                self.max_consecutive_failures = max_consecutive_failures
            self._failure_streak = 0
            self._unreachable = None

    def _where(self) -> str:
        url = self.http.base_url  # never the credentials: those travel in headers; userinfo is dropped
        port = f":{url.port}" if url.port else ""
        return f"{url.scheme}://{url.host}{port}{url.raw_path.decode('ascii', 'replace')}"

    def _check_reachable(self) -> None:
        if self._unreachable is not None:
            raise TruvUnreachable(self._unreachable)

    def _transport_failed(self, exc: Exception) -> bool:
        """Count one connection failure or timeout; True when this one trips the threshold (or it was)."""
        with self._reach_lock:
            self._failure_streak += 1
            if self._unreachable is None and self._failure_streak >= self.max_consecutive_failures:
                self._unreachable = (
                    f"Truv is unreachable at {self._where()}: {self._failure_streak} connection failures or "
                    f"timeouts in a row (last: {type(exc).__name__}); the pass stopped. "
                    "Check TRUV_BASE_URL (or truv.base_url) and the network."
                )
                log.error("truv_unreachable", base_url=self._where(), failures=self._failure_streak)
            return self._unreachable is not None

    def _reachable(self) -> None:
        with self._reach_lock:
            self._failure_streak = 0
            self._ever_answered = True

    @property
    def only_forbidden(self) -> int:
        """How many calls got 403 while no call has yet been answered otherwise (0 once one has)."""
        return 0 if self._key_ok else self._forbidden_streak

    def _answered(self, status: int) -> None:
        if status == 403:
            self._forbidden_streak += 1
        elif status != 401:
            self._key_ok = True

    def _attempts(
        self,
        method: str,
        path: str,
        json_body: Any,
        idempotent: bool,
        endpoint: str,
        before_send: Callable[[], None] | None,
    ) -> Any:
        attempt = 0
        while True:
            attempt += 1
            self._check_reachable()  # nothing is sent once Truv is taken as unreachable
            self.pacer.acquire()
            self._check_reachable()
            self.stats.requests += 1
            self.stats.by_endpoint[endpoint] = self.stats.by_endpoint.get(endpoint, 0) + 1
            if before_send is not None:
                before_send()
            try:
                response = self.http.request(method, path, json=json_body)
            except _NOT_SENT as exc:
                if self._transport_failed(exc):
                    raise TruvUnreachable(self._unreachable or "Truv is unreachable") from None
                if not idempotent:
                    raise TruvNotSent(f"{method} {path}: not sent ({type(exc).__name__})") from None
                if not self._ever_answered:
                    raise TruvUnavailable(f"{method} {path}: cannot connect ({type(exc).__name__})") from None
                self._give_up_or_wait(attempt, None, f"{method} {path}: cannot connect ({type(exc).__name__})")
                continue
            except httpx.TransportError as exc:
                # A POST may have landed: it stays "unknown" (reconciled), and the next call is refused.
                tripped = self._transport_failed(exc)
                if not idempotent:
                    raise TruvOutcomeUnknown(
                        f"{method} {path}: no answer ({type(exc).__name__}); reconciling, not resending"
                    ) from None
                if tripped:
                    raise TruvUnreachable(self._unreachable or "Truv is unreachable") from None
                if not self._ever_answered:
                    raise TruvUnavailable(f"{method} {path}: no answer ({type(exc).__name__})") from None
                self._give_up_or_wait(attempt, None, f"{method} {path}: no answer ({type(exc).__name__})")
                continue

            self._reachable()  # any answer, whatever its status, means Truv is there
            status = response.status_code
            self._answered(status)
            if 200 <= status < 300:
                try:
                    return response.json()
                except ValueError:
                    if not idempotent:
                        raise TruvOutcomeUnknown(f"{method} {path}: unreadable answer; reconciling") from None
                    self._give_up_or_wait(attempt, None, f"{method} {path}: unreadable JSON")
                    continue
            code, message = _error_fields(response)
            if 400 <= status < 500 and status != 401 and is_refresh_limit_message(message):
                # Truv's per-token refusal: never a throttle to wait out, whatever status carries it.
                raise TruvRefused(message, status=status, code=code)
            if status == 401 or (status == 403 and not self._key_ok and self._forbidden_streak >= FORBIDDEN_PROBE):
                raise TruvAuthError(
                    f"Truv refused the credentials ({status} {code or ''}): {message}. "
                    + (f"The first {self._forbidden_streak} calls all got 403. " if status == 403 else "")
                    + "Check TRUV_CLIENT_ID and TRUV_SECRET (the secret picks the environment).",
                    status=status,
                    code=code,
                )
            if status == 403:
                raise TruvForbidden(f"{method} {path}: 403 {code or ''}: {message}", status=403, code=code)
            if status == 404:
                raise TruvNotFound(f"{method} {path}: not found", status=404, code=code)
            if status == 429:
                # A throttled request was not processed, so re-sending even a refresh is safe.
                self.stats.throttled += 1
                wait = retry_after_seconds(response)
                self.pacer.hold(wait if wait is not None else self._backoff(attempt))
                if attempt >= self.max_attempts:
                    raise TruvThrottled(f"{method} {path}: still throttled after {attempt} attempts", status=429)
                self.stats.retries += 1
                log.warning("truv_throttled", path=path, wait=wait, attempt=attempt)
                continue
            if status >= 500:
                if not idempotent:
                    raise TruvOutcomeUnknown(f"{method} {path}: Truv answered {status}; reconciling", status=status)
                self._give_up_or_wait(attempt, response, f"{method} {path}: Truv answered {status}")
                continue
            raise TruvRefused(message or f"{method} {path}: {status}", status=status, code=code)

    def _give_up_or_wait(self, attempt: int, response: httpx.Response | None, message: str) -> None:
        if attempt >= self.max_attempts:
            raise TruvUnavailable(f"{message}; gave up after {attempt} attempts")
        wait = retry_after_seconds(response) if response is not None else None
        self.stats.retries += 1
        log.info("truv_retry", reason=message, attempt=attempt)
        self.clock.sleep(wait if wait is not None else self._backoff(attempt))


__all__ = ["MAX_CONSECUTIVE_FAILURES", "CallStats", "TruvClient", "build_http", "retry_after_seconds"]
