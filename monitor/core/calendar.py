"""Business days for the pre-closing window: weekends and US federal holidays (observed) excluded."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _federal(year: int) -> frozenset[date]:
    # The `holidays` package tracks Congress's changes (Juneteenth since 2021) and observed-day shifts.
    return frozenset(holidays.country_holidays("US", years=[year]).keys())


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _federal(day.year)


@lru_cache(maxsize=65536)  # closing dates repeat across a portfolio; every pass and view asks the same days
def subtract_business_days(day: date, count: int) -> date:
    """The business day `count` business days before `day` (count=0 -> `day` itself).

    Stops at the calendar's first day (a stored date near year 1 must not crash a report): import
    refuses such dates, but a row already in the database is still shown.
    """
    current = day
    remaining = count
    while remaining > 0:
        if current == date.min:
            return current
        current -= timedelta(days=1)
        if is_business_day(current):
            remaining -= 1
    return current


@lru_cache(maxsize=65536)
def add_business_days(day: date, count: int) -> date:
    current = day
    remaining = count
    while remaining > 0:
        if current == date.max:  # the calendar's last day: as subtract_business_days stops at its first
            return current
        current += timedelta(days=1)
        if is_business_day(current):
            remaining -= 1
    return current
