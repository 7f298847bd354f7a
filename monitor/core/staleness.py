"""When a loan's data is too old for a policy: the rolling max-age rule and the pre-closing window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from monitor.core.calendar import subtract_business_days


@dataclass(frozen=True, slots=True)
class Staleness:
    stale: bool
    reason: str  # "never_verified" | "max_age" | "pre_closing" | "fresh" | "pre_closing_fresh"
    data_age: timedelta | None = None


def pre_closing_windows(today: date, business_days: int) -> list[tuple[date, date]]:
    """Closing dates whose pre-closing window is open `today`, each with its window start.

    A window for closing date C starts `business_days` business days before C and runs to C;
    data dated before the start is too old for closing. Returned in closing-date order, so a
    set-based query can test `closing_date = C AND data_as_of < start` for the few dates open now.
    """
    out: list[tuple[date, date]] = []
    closing = today
    while True:
        start = subtract_business_days(closing, business_days)
        if start > today:
            return out
        out.append((closing, start))
        closing += timedelta(days=1)


def start_of_day_utc(day: date) -> datetime:
    from datetime import UTC

    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def assess(
    *,
    data_as_of: datetime | None,
    closing_date: date | None,
    max_age: timedelta,
    pre_closing_business_days: int | None,
    now: datetime,
) -> Staleness:
    """Stale when older than `max_age` (strictly), or dated before an open pre-closing window."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if data_as_of is None:
        return Staleness(True, "never_verified")
    age = now - data_as_of
    if age > max_age:
        return Staleness(True, "max_age", age)
    if pre_closing_business_days and closing_date is not None:
        today = now.date()
        for closing, start in pre_closing_windows(today, pre_closing_business_days):
            if closing == closing_date:
                if data_as_of < start_of_day_utc(start):
                    return Staleness(True, "pre_closing", age)
                return Staleness(False, "pre_closing_fresh", age)
    return Staleness(False, "fresh", age)
