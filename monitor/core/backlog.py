"""How long a backlog takes to clear at the current limits (pure), and the plan's per-loan vocabulary.

The estimate is deliberately simple: the backlog as it stands, no loan turning stale meanwhile, no
budget refusal. It answers "is this getting done this week or never", not "at 02:14 on Thursday".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from monitor.core.schedule import fire_times, trigger


class LoanDecision(StrEnum):
    """What a pass does with one loan, as `plan --json` lists it (the words `loans show` uses)."""

    REFRESH = "refresh"  # budget taken, refresh sent
    SKIP = "skip"  # looked at, not refreshed: the reason says why
    READ_ORDER = "read_order"  # order never read: the pass reads it, then decides
    NONE = "none"  # read, and fresh: nothing to do
    NOT_REACHED = "not_reached"  # stale, but the pass's max_refreshes ran out before its turn


def nightly_capacity(
    *, max_refreshes: int, passes_per_night: int = 1, billable_per_day: int | None = None, billable_share: float = 1.0
) -> int:
    """Refreshes a night can take: the job's passes, each up to `max_refreshes`, and the daily cap on
    billable refreshes (every non-GSE refresh is billable), of which `billable_share` are."""
    capacity = max(0, max_refreshes) * max(1, passes_per_night)
    if billable_per_day is not None and billable_share > 0:
        capacity = min(capacity, math.floor(max(0, billable_per_day) / billable_share))
    return capacity


def nights_to_clear(waiting: Sequence[int], *, capacity: int) -> list[int | None]:
    """Nights until each policy's waiting loans are all taken, policies in the job's order.

    An earlier policy takes the capacity first, so policy k clears when the sum of the first k does.
    None: never at these limits (no capacity while loans wait).
    """
    out: list[int | None] = []
    total = 0
    for n in waiting:
        total += max(0, n)
        if n <= 0:
            out.append(0)  # nothing of its own waits, whatever the earlier policies still have
        elif capacity <= 0:
            out.append(None)
        else:
            out.append(math.ceil(total / capacity))
    return out


def job_capacity(
    *,
    max_refreshes: int,
    schedule: str,
    timezone: str,
    billable_per_day: int | None,
    waiting: int,
    waiting_gse: int,
    now: datetime,
) -> int:
    """`nightly_capacity` for a job: its passes over the next day, and the non-GSE share of what waits."""
    passes = sum(1 for _ in fire_times(trigger(schedule, timezone), now, now + timedelta(days=1)))
    return nightly_capacity(
        max_refreshes=max_refreshes,
        passes_per_night=passes,
        billable_per_day=billable_per_day,
        billable_share=(waiting - waiting_gse) / waiting if waiting > 0 else 1.0,
    )
