"""The daemon's /healthz detail: each job's next fire, last pass, and since when it is overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypedDict

from monitor.config import JobConfig
from monitor.core.schedule import missed_fire, trigger
from monitor.services import Context
from monitor.store.job_history import COMPLETED_RUNS, last_finished, last_pass

# How far back a missed fire time is looked for (the catch-up's reach too).
CATCH_UP_HORIZON = timedelta(days=2)


class LastPassHealth(TypedDict):
    status: str
    started_at: str | None
    finished_at: str | None


class JobHealth(TypedDict):
    ok: bool
    next_fire: str | None
    last_pass: LastPassHealth | None
    overdue_since: str | None


class SchedulerHealth(TypedDict):
    scheduler: str
    jobs: dict[str, JobHealth]


def job_health(
    services: Context, job: JobConfig, next_fire: datetime | None, *, since: datetime, now: datetime
) -> JobHealth:
    """Not ok when its last pass failed, or a fire time after `since` (the daemon's start, or the job's
    last finished pass if later) and before `now` (less the misfire grace) saw no pass finish."""
    last = last_pass(services.engine, job.name)
    finished = last_finished(services.engine, job.name)
    missed = missed_fire(
        trigger(job.schedule, job.timezone),
        last_finished=max(finished, since) if finished is not None else since,
        now=now,
        horizon=CATCH_UP_HORIZON,
    )
    failed = last is not None and last.status not in COMPLETED_RUNS
    return {
        "ok": not failed and missed is None,
        "next_fire": next_fire.astimezone(UTC).isoformat() if next_fire else None,
        "last_pass": (
            {"status": last.status, "started_at": _iso(last.started_at), "finished_at": _iso(last.finished_at)}
            if last is not None
            else None
        ),
        "overdue_since": missed.astimezone(UTC).isoformat() if missed else None,
    }


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return str(moment.astimezone(UTC).isoformat())
