"""What the scheduler asks of past passes: when a job last finished, and how its last pass ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from monitor.core.states import RunState
from monitor.store.db import read_only, session
from monitor.store.tables import run_table

# Passes that ran their course: a catch-up or an overdue check counts from these only.
COMPLETED_RUNS = (RunState.FINISHED, RunState.STOPPED)


@dataclass(frozen=True, slots=True)
class LastPass:
    status: str
    started_at: datetime
    finished_at: datetime


def last_finished(engine: Engine, job: str) -> datetime | None:
    """When the job's latest pass that ran its course ended, or None if none has."""
    t = run_table.c
    with session(read_only(engine)) as s:
        moment: datetime | None = s.execute(
            select(func.max(t.finished_at)).where(t.job == job, t.status.in_(COMPLETED_RUNS))
        ).scalar()
    return moment


def last_pass(engine: Engine, job: str) -> LastPass | None:
    """The job's latest pass that ended, however it ended."""
    t = run_table.c
    with session(read_only(engine)) as s:
        row = s.execute(
            select(t.status, t.started_at, t.finished_at)
            .where(t.job == job, t.finished_at.is_not(None))
            .order_by(t.finished_at.desc())
            .limit(1)
        ).first()
    return LastPass(status=row.status, started_at=row.started_at, finished_at=row.finished_at) if row else None
