"""`monitor status`: what an operator checks first — last passes, lease, next fire times, headroom."""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.config import JobConfig
from monitor.core.budget import GSE_WINDOW
from monitor.core.schedule import fire_times, trigger
from monitor.reports.backlog import job_backlog
from monitor.reports.status_shapes import BudgetStatus, JobBacklog, JobStatus, RunLine, StatusView
from monitor.services import Context
from monitor.store import status_rows, usage
from monitor.store.db import read_only, session
from monitor.store.status_rows import LeaseRow, RunRow


def status(services: Context, *, now: datetime, passes: int = 5) -> StatusView:
    limits = services.limits
    jobs: list[JobStatus] = []
    with session(read_only(services.engine)) as s:
        for job in services.config.jobs:
            runs = status_rows.recent_runs(s, job.name, limit=passes)
            last = next((r.summary for r in runs if "backlog" in r.summary), None)
            backlog = job_backlog(services, job, last, now)  # per policy (issue 14)
            jobs.append(_job(job, runs, status_rows.live_lease(s, job.name, now=now), backlog, now))
        budget: BudgetStatus = {
            "tokens_at_24h_limit": usage.tokens_at_limit(s, per_token=limits.per_token, now=now),
            "tokens_blocked_by_truv": usage.tokens_blocked(s, now=now),
            # A loan whose free window is still open and used up (rule 2); after the window it is billable.
            "gse_loans_at_90d_limit": sum(
                1
                for t in usage.gse_standing(s, limits=limits, now=now, since=now - GSE_WINDOW).values()
                if t.in_window and t.free_left <= 0
            ),
            "per_token_per_24h": limits.per_token,
            "gse_per_90d": limits.gse,
            # Every non-GSE refresh, and a GSE one past its free window, is billed; the cap is optional.
            "billable_last_24h": len(usage.billable_uses(s, now=now)),
            "billable_per_day": limits.billable_per_day,
        }
        new_order = status_rows.loans_needing_new_order(s)
        reauth = status_rows.connections_needing_reauth(s)
    return {
        "now": now,
        "jobs": jobs,
        "connections_needing_reauth": reauth,
        "loans_needing_new_order": new_order,
        "budget": budget,
    }


def _job(job: JobConfig, runs: list[RunRow], lease: LeaseRow | None, backlog: JobBacklog, now: datetime) -> JobStatus:
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
        "backlog": backlog,
    }


def _run(run: RunRow) -> RunLine:
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
