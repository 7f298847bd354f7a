"""Pass records and the per-job run lease (DESIGN.md rule 8)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session

from monitor.store.tables import Lease, Run

LEASE_TTL = timedelta(minutes=10)


def start_run(session: Session, *, run_id: str, job: str, holder: str, now: datetime) -> None:
    session.add(Run(run_id=run_id, job=job, holder=holder, started_at=now, status="running"))


def finish_run(session: Session, *, run_id: str, status: str, summary: dict[str, Any], now: datetime) -> None:
    run = session.get(Run, run_id)
    if run is None:
        return
    run.status = status
    run.finished_at = now
    run.summary = json.dumps(summary, default=str, sort_keys=True)
    session.add(run)


def acquire_lease(
    session: Session,
    *,
    job: str,
    holder: str,
    run_id: str,
    now: datetime,
    ttl: timedelta = LEASE_TTL,
    holder_is_dead: Callable[[str], bool] = lambda _holder: False,
) -> Lease | None:
    """Take the job's lease, or return the live lease someone else holds.

    Runs inside an IMMEDIATE (SQLite) transaction; on Postgres the row is locked FOR UPDATE,
    and a first insert racing another one fails on the primary key and is retried by the caller.
    """
    query = select(Lease).where(Lease.job == job)  # type: ignore[arg-type]
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    lease = session.execute(query).scalars().first()
    if lease is not None and lease.expires_at > now and lease.run_id != run_id and not holder_is_dead(lease.holder):
        return lease
    if lease is None:
        session.add(Lease(job=job, holder=holder, run_id=run_id, expires_at=now + ttl))
    else:
        lease.holder, lease.run_id, lease.expires_at = holder, run_id, now + ttl
        session.add(lease)
    return None


def renew_lease(session: Session, *, job: str, run_id: str, now: datetime, ttl: timedelta = LEASE_TTL) -> bool:
    lease = session.get(Lease, job)
    if lease is None or lease.run_id != run_id:
        return False
    lease.expires_at = now + ttl
    session.add(lease)
    return True


def release_lease(session: Session, *, job: str, run_id: str) -> None:
    session.execute(delete(Lease.__table__).where(Lease.__table__.c.job == job, Lease.__table__.c.run_id == run_id))
