"""Truv's HTTP API as the job needs it: typed errors, pacing, safe retries, no blind re-sends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar

import httpx
import structlog

from monitor.clock import Clock
from monitor.core.assets import AssetsSnapshot
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
from monitor.truv.answers import error_fields, retry_after_seconds
from monitor.truv.assets_wire import parse_assets_report
from monitor.truv.call_count import CallCount, note_request, note_throttled
from monitor.truv.orders_page import OrdersPage, parse_orders_page
from monitor.truv.pacer import Pacer
from monitor.truv.report_wire import parse_report
from monitor.truv.secrets import token_hash
from monitor.truv.wire import LinkInfo, OrderInfo, parse_link, parse_order

log = structlog.get_logger("monitor.truv")

# Errors that mean the request never left this machine: the connection was never established.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
# A 403 concerns one resource; only when this many calls in a row, from the first, all get one is the
# key itself wrong for the environment (DESIGN.md rule 13).
FORBIDDEN_PROBE = 5
# Connection failures or timeouts in a row, across threads, after which Truv is taken as unreachable.
MAX_CONSECUTIVE_FAILURES = 10


T = TypeVar("T")


@dataclass(frozen=True)
class CallStats:
    """Every call this client made since it was built, whichever pass made it (a pass counts its own with
    `monitor.truv.call_count.counting`)."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    by_endpoint: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    json_body: Any
    idempotent: bool
    endpoint: str  # the label the statistics count it under
    before_send: Callable[[], None] | None
    params: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


class _Retry:
    """The answer an attempt gives when the next attempt should be made."""


_RETRY: Final = _Retry()


def build_http(
    base_url: str, client_id: str, secret: str, timeout: float, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The HTTP client every Truv call goes through; `transport` replaces the network (tests, the demo)."""
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
        transport=transport,
    )


class TruvClient:
    """All calls share one Pacer; GETs retry, the refresh POST never repeats after it may have landed."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        pacer: Pacer,
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
        self._totals = CallCount()
        self._retries = 0
        self._retries_lock = threading.Lock()
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

    def list_orders(self, query: tuple[tuple[str, str], ...]) -> OrdersPage:
        """GET /v1/orders/ ("List orders"): one page, paced and retried like every GET. `query` is the first
        page's (`orders_page.first_query`) or the one a page's `next` carries (`OrdersPage.next_query`)."""
        return self._parsed(parse_orders_page, self._call("GET", "orders/", endpoint="list_orders", params=query))

    def get_link_report(
        self, link_id: str, *, product: str, fallback_as_of: datetime, baseline: bool = False
    ) -> Snapshot:
        """GET /v1/links/{id}/income/report/ (employment: .../employment/report/): the fields monitoring keeps.

        A GET, so retried when safe; the report's access_token is dropped by the parser. `baseline`: the read
        before a connection's first refresh, counted apart (`get_income_baseline`): a one-time cost, like an
        order's details.
        """
        kind = "employment" if product == "employment" else "income"
        endpoint = f"get_{kind}_baseline" if baseline else f"get_{kind}_report"
        data = self._call("GET", f"links/{link_id}/{kind}/report/", endpoint=endpoint)
        try:
            return parse_report(data, fallback_as_of=fallback_as_of)
        except ValueError as exc:
            raise TruvUnavailable(f"Truv sent a report we cannot read: {exc}") from None

    def get_assets_report(
        self, user_id: str, report_id: str, *, link_id: str, fallback_as_of: datetime
    ) -> AssetsSnapshot:
        """GET /v1/users/{user_id}/assets/reports/{report_id}/ (the refresh order's `voa_report_id`):
        the accounts of `link_id` that monitoring keeps. A GET, so retried when safe."""
        data = self._call("GET", f"users/{user_id}/assets/reports/{report_id}/", endpoint="get_assets_report")
        try:
            return parse_assets_report(data, link_id=link_id, fallback_as_of=fallback_as_of)
        except ValueError as exc:
            raise TruvUnavailable(f"Truv sent an assets report we cannot read: {exc}") from None

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
        body: dict[str, object] = {"products": [product]}
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

    def create_bridge_token(self, user_id: str, *, product_type: str, access_token: str) -> str:
        """The bridge token Truv issued (the answer's other fields are not needed)."""
        body = {"product_type": product_type, "access_token": access_token}
        # Creating a bridge token spends no budget, so a repeat after a lost answer is harmless.
        data = self._call("POST", f"users/{user_id}/tokens/", json_body=body, idempotent=True, endpoint="bridge_token")
        if not isinstance(data, dict) or "bridge_token" not in data:
            raise TruvUnavailable("Truv's bridge token answer had no bridge_token")
        return str(data["bridge_token"])

    # -- machinery ----------------------------------------------------------------------------

    @property
    def stats(self) -> CallStats:
        """A snapshot of the calls made so far."""
        with self._retries_lock:
            retries = self._retries
        return CallStats(
            requests=self._totals.requests,
            throttled=self._totals.throttled,
            retries=retries,
            by_endpoint=self._totals.by_endpoint,
        )

    def _count_request(self, endpoint: str) -> None:
        self._totals.request(endpoint)
        note_request(endpoint)

    def _count_retry(self) -> None:
        with self._retries_lock:
            self._retries += 1

    @staticmethod
    def _parsed(parser: Callable[[Any], T], data: Any) -> T:
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
        params: tuple[tuple[str, str], ...] = (),
    ) -> Any:
        request = _Request(method, path, json_body, idempotent, endpoint, before_send, params)
        if self._key_ok:
            return self._attempts(request)
        with self._probe:
            return self._attempts(request)

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

    def _attempts(self, request: _Request) -> Any:
        attempt = 0
        while True:
            attempt += 1
            response = self._send(request, attempt)
            if response is None:
                continue
            answer = self._read_answer(request, attempt, response)
            if answer is not _RETRY:
                return answer

    def _send(self, request: _Request, attempt: int) -> httpx.Response | None:
        """One attempt on the wire: the response, or None when a failure before any answer is worth a retry."""
        self._check_reachable()  # nothing is sent once Truv is taken as unreachable
        self.pacer.acquire()
        self._check_reachable()
        self._count_request(request.endpoint)
        if request.before_send is not None:
            request.before_send()
        try:
            params = request.params or None
            return self.http.request(request.method, request.path, json=request.json_body, params=params)
        except _NOT_SENT as exc:
            self._not_sent(request, attempt, exc)
        except httpx.TransportError as exc:
            self._no_answer(request, attempt, exc)
        return None

    def _not_sent(self, request: _Request, attempt: int, exc: Exception) -> None:
        """The connection was never made, so the request never left: a POST may be released, a GET retried."""
        if self._transport_failed(exc):
            raise TruvUnreachable(self._unreachable or "Truv is unreachable") from None
        why = f"{request.label}: cannot connect ({type(exc).__name__})"
        if not request.idempotent:
            raise TruvNotSent(f"{request.label}: not sent ({type(exc).__name__})") from None
        if not self._ever_answered:
            raise TruvUnavailable(why) from None
        self._give_up_or_wait(attempt, None, why)

    def _no_answer(self, request: _Request, attempt: int, exc: Exception) -> None:
        """The request may have landed: a POST stays "unknown" (reconciled), and the next call is refused."""
        tripped = self._transport_failed(exc)
        why = f"{request.label}: no answer ({type(exc).__name__})"
        if not request.idempotent:
            raise TruvOutcomeUnknown(f"{why}; reconciling, not resending") from None
        if tripped:
            raise TruvUnreachable(self._unreachable or "Truv is unreachable") from None
        if not self._ever_answered:
            raise TruvUnavailable(why) from None
        self._give_up_or_wait(attempt, None, why)

    def _read_answer(self, request: _Request, attempt: int, response: httpx.Response) -> Any:
        """The answer's JSON, `_RETRY`, or the typed error the status means."""
        self._reachable()  # any answer, whatever its status, means Truv is there
        status = response.status_code
        self._answered(status)
        if 200 <= status < 300:
            return self._json(request, attempt, response)
        code, message = error_fields(response)
        self._raise_for_refusal(request, status, code, message)
        if status == 429:
            self._wait_out_throttle(request, attempt, response)
            return _RETRY
        if status >= 500:
            if not request.idempotent:
                raise TruvOutcomeUnknown(f"{request.label}: Truv answered {status}; reconciling", status=status)
            self._give_up_or_wait(attempt, response, f"{request.label}: Truv answered {status}")
            return _RETRY
        raise TruvRefused(message or f"{request.label}: {status}", status=status, code=code)

    def _json(self, request: _Request, attempt: int, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            if not request.idempotent:
                raise TruvOutcomeUnknown(f"{request.label}: unreadable answer; reconciling") from None
            self._give_up_or_wait(attempt, None, f"{request.label}: unreadable JSON")
            return _RETRY

    def _raise_for_refusal(self, request: _Request, status: int, code: str | None, message: str) -> None:
        """The answers that concern the request itself, or the credentials: never retried."""
        if 400 <= status < 500 and status != 401 and is_refresh_limit_message(message):
            # Truv's per-token refusal: never a throttle to wait out, whatever status carries it.
            raise TruvRefused(message, status=status, code=code)
        if self._credentials_refused(status):
            raise self._auth_error(status, code, message)
        if status == 403:
            raise TruvForbidden(f"{request.label}: 403 {code or ''}: {message}", status=403, code=code)
        if status == 404:
            raise TruvNotFound(f"{request.label}: not found", status=404, code=code)

    def _credentials_refused(self, status: int) -> bool:
        """A 401; or a 403 to every call from the first, FORBIDDEN_PROBE of them: the key (rule 13)."""
        return status == 401 or (status == 403 and not self._key_ok and self._forbidden_streak >= FORBIDDEN_PROBE)

    def _auth_error(self, status: int, code: str | None, message: str) -> TruvAuthError:
        streak = f"The first {self._forbidden_streak} calls all got 403. " if status == 403 else ""
        return TruvAuthError(
            f"Truv refused the credentials ({status} {code or ''}): {message}. "
            + streak
            + "Check TRUV_CLIENT_ID and TRUV_SECRET (the secret picks the environment).",
            status=status,
            code=code,
        )

    def _wait_out_throttle(self, request: _Request, attempt: int, response: httpx.Response) -> None:
        """A throttled request was not processed, so re-sending even a refresh is safe."""
        self._totals.throttle()
        note_throttled()
        wait = retry_after_seconds(response)
        self.pacer.hold(wait if wait is not None else self._backoff(attempt))
        if attempt >= self.max_attempts:
            raise TruvThrottled(f"{request.label}: still throttled after {attempt} attempts", status=429)
        self._count_retry()
        log.warning("truv_throttled", path=request.path, wait=wait, attempt=attempt)

    def _give_up_or_wait(self, attempt: int, response: httpx.Response | None, message: str) -> None:
        if attempt >= self.max_attempts:
            raise TruvUnavailable(f"{message}; gave up after {attempt} attempts")
        wait = retry_after_seconds(response) if response is not None else None
        self._count_retry()
        log.info("truv_retry", reason=message, attempt=attempt)
        self.clock.sleep(wait if wait is not None else self._backoff(attempt))


__all__ = ["MAX_CONSECUTIVE_FAILURES", "CallStats", "TruvClient", "build_http"]
