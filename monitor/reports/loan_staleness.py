"""When a loan's data turns stale for a policy, as the pass judges it (monitor.core.staleness): the
loan views' `not_stale` and `next_eligible` come from here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.config import PolicyConfig
from monitor.core.calendar import subtract_business_days
from monitor.core.refresh_choice import ScopedConnection, held_back
from monitor.core.staleness import assess, start_of_day_utc
from monitor.core.states import SkipReason
from monitor.store.loan_rows import LoanRow


def stale_at(data_as_of: datetime | None, loan: LoanRow, policy: PolicyConfig) -> datetime | None:
    """When data dated `data_as_of` turns stale for the policy (None: it already is, or never known)."""
    if data_as_of is None:
        return None
    at = data_as_of + policy.max_age
    if policy.pre_closing_business_days and loan.closing_date is not None:
        start = start_of_day_utc(subtract_business_days(loan.closing_date, policy.pre_closing_business_days))
        if data_as_of < start:
            at = min(at, start)
    return at


def is_stale(data_as_of: datetime | None, loan: LoanRow, policy: PolicyConfig, now: datetime, *, read: bool) -> bool:
    if data_as_of is None:
        return read  # never completed once its order is read; unknown (not stale) before
    return assess(
        data_as_of=data_as_of,
        closing_date=loan.closing_date,
        max_age=policy.max_age,
        pre_closing_business_days=policy.pre_closing_business_days,
        now=now,
    ).stale


def next_eligible(
    connections: Sequence[ScopedConnection], loan: LoanRow, policy: PolicyConfig, now: datetime
) -> datetime | None:
    """The earliest a connection left out now could be refreshed: when a fresh one turns stale, or a
    backoff ends."""
    times: list[datetime] = []
    for conn in connections:
        if not is_stale(conn.data_as_of, loan, policy, now, read=True):
            if (at := stale_at(conn.data_as_of, loan, policy)) is not None:
                times.append(at)
        elif held_back(conn, now) == SkipReason.RETRY_BACKOFF and conn.retry_after is not None:
            times.append(conn.retry_after)
    return min(times, default=None)
