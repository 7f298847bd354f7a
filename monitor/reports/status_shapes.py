"""`monitor status --json`'s shape (and the console's overview): one TypedDict per section, dumped as-is."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict


class PolicyBacklogView(TypedDict):
    stale: int
    data_date_unknown: int
    waiting: int
    in_flight: int
    retry_backoff: int
    held: dict[str, int]
    nights_to_clear: int | None
    last_pass: dict[str, object]  # the last pass's `not_reached` and `blocked`, as its summary has them


class JobBacklog(TypedDict):
    capacity_per_night: int
    policies: dict[str, PolicyBacklogView]


class Lease(TypedDict):
    holder: str
    run_id: str
    expires_at: datetime


class RunLine(TypedDict):
    """One recent pass, from its summary (a pass that ended early lacks some counts)."""

    run_id: str
    status: str
    holder: str
    started_at: datetime
    finished_at: datetime | None
    submitted: int | None
    completed: int | None
    failed: dict[str, int] | None
    skipped: dict[str, int] | None
    throttled: int | None
    error: str | None


class JobStatus(TypedDict):
    job: str
    schedule: str
    next_fire_times: list[datetime]
    lease: Lease | None
    last_passes: list[RunLine]
    backlog: JobBacklog


class BudgetStatus(TypedDict):
    tokens_at_24h_limit: int
    tokens_blocked_by_truv: int
    gse_loans_at_90d_limit: int
    per_token_per_24h: int
    gse_per_90d: int
    billable_last_24h: int
    billable_per_day: int | None


class StatusView(TypedDict):
    now: datetime
    jobs: list[JobStatus]
    connections_needing_reauth: int
    loans_needing_new_order: int
    budget: BudgetStatus
