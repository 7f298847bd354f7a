"""Delivering the outbox to the lender: signed like Truv signs ours, retried, idempotent."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import httpx
import structlog
from sqlalchemy import select

from monitor.app import Services
from monitor.errors import ConfigError
from monitor.store.db import session
from monitor.store.tables import Outbox
from monitor.webhooks.signature import sign

log = structlog.get_logger("monitor.notify")
BACKOFF_CAP = timedelta(hours=6)


@dataclass
class Delivered:
    delivered: int = 0
    failed: int = 0


def notify_secret(services: Services) -> str:
    notify = services.config.notify
    assert notify is not None
    secret = os.environ.get(notify.secret_env, "")
    if not secret:
        raise ConfigError("environment", notify.secret_env, "not set; jobs.yaml notify: signs hand-offs with it")
    return secret


def deliver(services: Services, *, http: httpx.Client | None = None, limit: int = 200) -> Delivered:
    """POST every due hand-off once; a failure is retried later (1, 2, 4 … minutes, at most 6 h)."""
    notify = services.config.notify
    if notify is None:
        return Delivered()
    secret = notify_secret(services)
    result = Delivered()
    own = http is None
    client = http or httpx.Client(timeout=notify.timeout_seconds)
    try:
        now = services.clock.now()
        with session(services.engine) as s:
            query = select(Outbox).where(Outbox.delivered_at.is_(None), Outbox.next_attempt_at <= now)  # type: ignore[union-attr,operator]
            if s.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)  # two passes never post the same row at once
            rows = list(s.execute(query.order_by(Outbox.id).limit(limit)).scalars())  # type: ignore[arg-type]
            for row in rows:
                body = row.payload.encode("utf-8")
                headers = {
                    "Content-Type": "application/json",
                    "Idempotency-Key": row.idempotency_key,
                    "X-MONITOR-SIGN": sign(body, secret),
                    "User-Agent": "monitor",
                }
                try:
                    answer = client.post(notify.url, content=body, headers=headers)
                    ok, error = answer.is_success, f"HTTP {answer.status_code}"
                except httpx.HTTPError as exc:
                    ok, error = False, type(exc).__name__
                row.attempts += 1
                if ok:
                    row.delivered_at = now
                    result.delivered += 1
                else:
                    row.last_error = error
                    row.next_attempt_at = now + min(timedelta(minutes=2 ** (row.attempts - 1)), BACKOFF_CAP)
                    result.failed += 1
                    log.warning("handoff_not_delivered", key=row.idempotency_key, error=error, attempts=row.attempts)
                s.add(row)
    finally:
        if own:
            client.close()
    return result
