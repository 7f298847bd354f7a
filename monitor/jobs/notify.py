"""Delivering the outbox to the lender: signed like Truv signs ours, retried, idempotent.

No database transaction is open during a POST, so a slow lender never holds the write lock a pass or
the webhook receiver needs. Each hand-off is claimed in one short transaction (its next attempt moved
past the delivery's deadline: a lease), posted, and its result recorded in another. Each POST has one
wall-clock deadline (`notify.timeout_seconds`) over connecting, sending and the answer, and reads at
most 64 KiB of that answer: its status decides, its body is dropped.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import httpx
import structlog

from monitor.core.signature import sign
from monitor.errors import ConfigError
from monitor.services import Context
from monitor.store import outbox

log = structlog.get_logger("monitor.notify")
BACKOFF_CAP = timedelta(hours=6)
MAX_ANSWER_BYTES = 64 * 1024
# A claim outlives its delivery's deadline by this much, so a live delivery is never taken over.
LEASE_MARGIN = timedelta(seconds=30)


@dataclass
class Delivered:
    delivered: int = 0
    failed: int = 0


def notify_secret(services: Context) -> str:
    notify = services.config.notify
    assert notify is not None
    secret = os.environ.get(notify.secret_env, "")
    if not secret:
        raise ConfigError("environment", notify.secret_env, "not set; jobs.yaml notify: signs hand-offs with it")
    return secret


def deliver(services: Context, *, limit: int = 200) -> Delivered:
    """POST every due hand-off once; a failure is retried later (1, 2, 4 … minutes, at most 6 h)."""
    notify = services.config.notify
    if notify is None:
        return Delivered()
    secret = notify_secret(services)
    lease = timedelta(seconds=notify.timeout_seconds) + LEASE_MARGIN
    result = Delivered()
    for _ in range(limit):
        claim = outbox.claim_next(services.engine, services.clock, lease=lease)
        if claim is None:
            break
        body = claim.payload.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": claim.key,
            "X-MONITOR-SIGN": sign(body, secret),
            "User-Agent": "monitor",
        }
        error = post(notify.url, body, headers, seconds=notify.timeout_seconds)
        _record(services, claim, error)
        if error is None:
            result.delivered += 1
        else:
            result.failed += 1
            log.warning("handoff_not_delivered", key=claim.key, error=error, attempts=claim.attempts + 1)
    return result


def _record(services: Context, claim: outbox.Claim, error: str | None) -> None:
    now = services.clock.now()
    if error is None:
        outbox.delivered(services.engine, claim, now=now)
        return
    backoff = min(timedelta(minutes=1 << min(claim.attempts, 20)), BACKOFF_CAP)  # 1, 2, 4 ... minutes
    outbox.not_delivered(services.engine, claim, error=error, next_attempt_at=now + backoff)


def post(url: str, body: bytes, headers: dict[str, str], *, seconds: float) -> str | None:
    """POST within `seconds` of wall-clock time in all; None when the lender answered 2xx, else why not.

    The reason is the status or the exception's name: never the body, which could echo secrets or PII.
    """
    deadline = time.monotonic() + seconds
    watchdog = _Watchdog(deadline)
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(seconds)) as client,
            client.stream("POST", url, content=body, headers=headers, extensions={"trace": watchdog.trace}) as answer,
        ):
            _drain(answer, deadline)
            return None if answer.is_success else f"HTTP {answer.status_code}"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return "deadline" if watchdog.fired else type(exc).__name__
    finally:
        watchdog.cancel()


def _drain(answer: httpx.Response, deadline: float) -> None:
    """Read the answer up to MAX_ANSWER_BYTES or the deadline, whichever comes first, and drop it.

    Raw bytes: decoding would let a small gzip body inflate to gigabytes in memory.
    """
    read = 0
    try:
        for chunk in answer.iter_raw():
            read += len(chunk)
            if read >= MAX_ANSWER_BYTES or time.monotonic() >= deadline:
                return
    except httpx.HTTPError:
        return  # the status already arrived; a body cut short changes nothing


class _Watchdog:
    """Cuts the connection when the deadline passes.

    httpx's timeouts bound each read, not the exchange: a server sending a byte a second, even while
    still sending its status line, would hold a delivery for ever. Shutting the socket down from this
    timer thread wakes the blocked read at once, whatever the phase (headers, body, TLS or not).
    """

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer: threading.Timer | None = None
        self.fired = False

    def trace(self, event: str, info: Mapping[str, object]) -> None:
        """httpcore's trace hook: note the newest socket (TCP, then TLS) and start the timer once."""
        if not event.endswith(("connect_tcp.complete", "start_tls.complete")):
            return
        extra = getattr(info.get("return_value"), "get_extra_info", None)  # the network stream's
        sock = extra("socket") if callable(extra) else None
        with self._lock:
            self._sock = sock if isinstance(sock, socket.socket) else self._sock
            if self._timer is None:
                self._timer = threading.Timer(max(0.0, self._deadline - time.monotonic()), self._cut)
                self._timer.daemon = True
                self._timer.start()

    def _cut(self) -> None:
        with self._lock:
            self.fired = True
            sock = self._sock
        if sock is None:
            return
        try:
            # A duplicate of the descriptor: shutdown acts on the connection, and the TLS object that
            # the reading thread is inside is left alone.
            with socket.fromfd(sock.fileno(), sock.family, sock.type) as dup:
                dup.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: the delivery finished as the deadline passed

    def cancel(self) -> None:
        with self._lock:
            timer = self._timer
        if timer is not None:
            timer.cancel()
