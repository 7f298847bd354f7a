"""Pass records and the per-job run lease (DESIGN.md rule 8)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlmodel import Session

from monitor.core.readable import json_default
from monitor.store.tables import Lease, Run, lease_table, run_table

LEASE_TTL = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class HeldLease:
    """The live lease of another pass of the job."""

    job: str
    holder: str
    run_id: str
    expires_at: datetime


def start_run(session: Session, *, run_id: str, job: str, holder: str, now: datetime) -> None:
    session.add(Run(run_id=run_id, job=job, holder=holder, started_at=now, status="running"))


def finish_run(session: Session, *, run_id: str, status: str, summary: Mapping[str, object], now: datetime) -> None:
    t = run_table.c
    session.execute(
        update(run_table)
        .where(t.run_id == run_id)
        .values(status=status, finished_at=now, summary=json.dumps(summary, default=json_default, sort_keys=True))
    )


def acquire_lease(
    session: Session,
    *,
    job: str,
    holder: str,
    run_id: str,
    now: datetime,
    ttl: timedelta = LEASE_TTL,
    holder_is_dead: Callable[[str], bool] = lambda _holder: False,
) -> HeldLease | None:
    """Take the job's lease, or return the live lease someone else holds.

    Runs inside an IMMEDIATE (SQLite) transaction; on Postgres the row is locked FOR UPDATE,
    and a first insert racing another one fails on the primary key and is retried by the caller.
    """
    t = lease_table.c
    query = select(t.job, t.holder, t.run_id, t.expires_at).where(t.job == job)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.execute(query).first()
    lease = HeldLease(*row) if row is not None else None
    if lease is not None and lease.expires_at > now and lease.run_id != run_id and not holder_is_dead(lease.holder):
        return lease
    if lease is None:
        session.add(Lease(job=job, holder=holder, run_id=run_id, expires_at=now + ttl))
    else:
        session.execute(
            update(lease_table).where(t.job == job).values(holder=holder, run_id=run_id, expires_at=now + ttl)
        )
    return None


def renew_lease(session: Session, *, job: str, run_id: str, now: datetime, ttl: timedelta = LEASE_TTL) -> bool:
    t = lease_table.c
    renewed = session.connection().execute(
        update(lease_table).where(t.job == job, t.run_id == run_id).values(expires_at=now + ttl)
    )
    return renewed.rowcount > 0


def release_lease(session: Session, *, job: str, run_id: str) -> None:
    t = lease_table.c
    session.execute(delete(lease_table).where(t.job == job, t.run_id == run_id))
