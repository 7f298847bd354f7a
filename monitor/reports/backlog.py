"""The backlog `monitor status` shows per job and policy: read live, beside what the last pass left."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from monitor.config import JobConfig
from monitor.core.backlog import job_capacity, nights_to_clear
from monitor.core.products import scope_of
from monitor.core.selection import Selection
from monitor.reports.status_shapes import JobBacklog, PolicyBacklogView
from monitor.services import Context
from monitor.store.backlog import PolicyBacklog, policy_backlog
from monitor.store.db import read_only, session


def job_backlog(services: Context, job: JobConfig, last_pass: Mapping[str, Any] | None, now: datetime) -> JobBacklog:
    """Per policy: stale, what a pass would take now (`waiting`), what holds the rest back, the last
    pass's `not_reached` and `blocked`, and the nights the waiting loans need at the job's limits.

    A loan two policies match counts under both: the estimate is the cautious one."""
    reads: dict[str, PolicyBacklog] = {}
    with session(read_only(services.engine)) as s:
        for name in job.policies:
            policy = services.config.policy(name)
            selection = Selection(
                match=policy.match,
                max_age_cutoff=now - policy.max_age,
                pre_closing_days=policy.pre_closing_business_days,
                scope=scope_of(policy.product),
            )
            reads[name] = policy_backlog(s, selection, now=now)
    capacity = job_capacity(
        max_refreshes=job.max_refreshes,
        schedule=job.schedule,
        timezone=job.timezone,
        billable_per_day=services.limits.billable_per_day,
        waiting=sum(b.waiting for b in reads.values()),
        waiting_gse=sum(b.waiting_gse for b in reads.values()),
        now=now,
    )
    nights = nights_to_clear([b.waiting for b in reads.values()], capacity=capacity)
    last = (last_pass or {}).get("backlog") or {}
    out: dict[str, PolicyBacklogView] = {}
    for (name, b), n in zip(reads.items(), nights, strict=True):
        out[name] = {
            "stale": b.stale,
            "data_date_unknown": b.data_date_unknown,
            "waiting": b.waiting,
            "in_flight": b.in_flight,
            "retry_backoff": b.retry_backoff,
            "held": b.held,
            "nights_to_clear": n,
            "last_pass": {k: last[name][k] for k in ("not_reached", "blocked") if k in last.get(name, {})},
        }
    return {"capacity_per_night": capacity, "policies": out}
