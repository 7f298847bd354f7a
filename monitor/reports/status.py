"""`monitor status`: what an operator checks first — last passes, lease, next fire times, headroom."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from monitor.config import JobConfig
from monitor.core.budget import GSE_WINDOW
from monitor.core.schedule import fire_times, trigger
from monitor.reports.backlog import job_backlog
from monitor.services import Context
from monitor.store import status_rows, usage
from monitor.store.db import read_only, session
from monitor.store.status_rows import LeaseRow, RunRow


def status(services: Context, *, now: datetime, passes: int = 5) -> dict[str, Any]:
    limits = services.limits
    out: dict[str, Any] = {"now": now, "jobs": []}
    with session(read_only(services.engine)) as s:
        for job in services.config.jobs:
            runs = status_rows.recent_runs(s, job.name, limit=passes)
            out["jobs"].append(_job(job, runs, status_rows.live_lease(s, job.name, now=now), now))
            last = next((r.summary for r in runs if "backlog" in r.summary), None)
            out["jobs"][-1]["backlog"] = job_backlog(services, job, last, now)  # per policy (issue 14)
        tokens_at_limit = usage.tokens_at_limit(s, per_token=limits.per_token, now=now)
        blocked = usage.tokens_blocked(s, now=now)
        # A loan whose free window is still open and used up (rule 2); after the window it is billable.
        standing = usage.gse_standing(s, limits=limits, now=now, since=now - GSE_WINDOW)
        billable = len(usage.billable_uses(s, now=now))
        new_order = status_rows.loans_needing_new_order(s)
        reauth = status_rows.connections_needing_reauth(s)
    out["connections_needing_reauth"] = reauth
    out["loans_needing_new_order"] = new_order
    out["budget"] = {
        "tokens_at_24h_limit": tokens_at_limit,
        "tokens_blocked_by_truv": blocked,
        "gse_loans_at_90d_limit": sum(1 for t in standing.values() if t.in_window and t.free_left <= 0),
        "per_token_per_24h": limits.per_token,
        "gse_per_90d": limits.gse,
        # Every non-GSE refresh, and a GSE one past its free window, is billed; the cap is optional.
        "billable_last_24h": billable,
        "billable_per_day": limits.billable_per_day,
    }
    return out


def _job(job: JobConfig, runs: list[RunRow], lease: LeaseRow | None, now: datetime) -> dict[str, Any]:
    upcoming = list(fire_times(trigger(job.schedule, job.timezone), now, now + timedelta(days=8)))[:3]
    return {
        "job": job.name,
        "schedule": f"{job.schedule} {job.timezone}",
        "next_fire_times": upcoming,
        "lease": (
            {"holder": lease.holder, "run_id": lease.run_id, "expires_at": lease.expires_at}
            if lease is not None
            else None
        ),
        "last_passes": [_run(r) for r in runs],
    }


def _run(run: RunRow) -> dict[str, Any]:
    summary = run.summary
    return {
        "run_id": run.run_id,
        "status": run.status,
        "holder": run.holder,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "submitted": summary.get("submitted"),
        "completed": summary.get("completed"),
        "failed": summary.get("failed"),
        "skipped": summary.get("skipped"),
        "throttled": summary.get("throttled"),
        "error": summary.get("error"),
    }
