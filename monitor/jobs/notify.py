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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import select, update

from monitor.app import Services
from monitor.errors import ConfigError
from monitor.store.db import session
from monitor.store.tables import Outbox
from monitor.webhooks.signature import sign

log = structlog.get_logger("monitor.notify")
BACKOFF_CAP = timedelta(hours=6)
MAX_ANSWER_BYTES = 64 * 1024
# A claim outlives its delivery's deadline by this much, so a live delivery is never taken over.
LEASE_MARGIN = timedelta(seconds=30)
_OUTBOX = Outbox.__table__
_T = _OUTBOX.c


@dataclass
class Delivered:
    delivered: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class _Claim:
    id: int
    key: str
    payload: str
    attempts: int


def notify_secret(services: Services) -> str:
    notify = services.config.notify
    assert notify is not None
    secret = os.environ.get(notify.secret_env, "")
    if not secret:
        raise ConfigError("environment", notify.secret_env, "not set; jobs.yaml notify: signs hand-offs with it")
    return secret


def deliver(services: Services, *, limit: int = 200) -> Delivered:
    """POST every due hand-off once; a failure is retried later (1, 2, 4 … minutes, at most 6 h)."""
    notify = services.config.notify
    if notify is None:
        return Delivered()
    secret = notify_secret(services)
    lease = timedelta(seconds=notify.timeout_seconds) + LEASE_MARGIN
    result = Delivered()
    for _ in range(limit):
        claim = _claim_next(services, lease=lease)
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


def _claim_next(services: Services, *, lease: timedelta) -> _Claim | None:
    """The oldest due hand-off, claimed by moving its next attempt to the end of the lease: another pass
    skips it while it is in flight, and takes it up again only if this process dies."""
    for _ in range(100):  # each retry means another pass claimed the row first: take the next one
        now = services.clock.now()
        with session(services.engine) as s:
            due = select(_T.id, _T.idempotency_key, _T.payload, _T.attempts).where(
                _T.delivered_at.is_(None), _T.next_attempt_at <= now
            )
            if s.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            row = s.execute(due.order_by(_T.id).limit(1)).first()
            if row is None:
                return None
            # The condition is checked again by the UPDATE itself: the claim, not the read, is the guarantee.
            claimed = s.execute(
                update(_OUTBOX)
                .where(_T.id == row.id, _T.delivered_at.is_(None), _T.next_attempt_at <= now)
                .values(next_attempt_at=now + lease)
            ).rowcount
            if claimed:
                return _Claim(id=row.id, key=row.idempotency_key, payload=row.payload, attempts=row.attempts)
    return None


def _record(services: Services, claim: _Claim, error: str | None) -> None:
    now = services.clock.now()
    attempts = claim.attempts + 1
    with session(services.engine) as s:
        if error is None:
            done = update(_OUTBOX).where(_T.id == claim.id, _T.delivered_at.is_(None))
            s.execute(done.values(delivered_at=now, attempts=attempts, last_error=None))
        else:
            # Only while the row is still ours: if the lease ran out and another pass took it, its word stands.
            retry = update(_OUTBOX).where(_T.id == claim.id, _T.delivered_at.is_(None), _T.attempts == claim.attempts)
            backoff = min(timedelta(minutes=2 ** (attempts - 1)), BACKOFF_CAP)
            s.execute(retry.values(attempts=attempts, last_error=error, next_attempt_at=now + backoff))


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

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: note the newest socket (TCP, then TLS) and start the timer once."""
        if not event.endswith(("connect_tcp.complete", "start_tls.complete")):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
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
