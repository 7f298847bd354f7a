"""A missed pay date: the pay interval (Truv's pay_frequency, else the gaps between pay dates), and a
report with no new pay date well past it."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from monitor.core.changes.findings import Finding, Rule, Severity
from monitor.core.changes.readings import Employment

# Days between pay dates per Truv pay_frequency (M, SM, W, BW, A; C is contract: no schedule).
PAY_INTERVAL_DAYS = {"W": 7.0, "BW": 14.0, "SM": 365.25 / 24, "M": 365.25 / 12, "A": 365.25}


def pay_interval(employment: Employment) -> timedelta | None:
    """The pay interval from `pay_frequency`, else from the gaps between the latest pay dates."""
    if employment.pay_frequency in PAY_INTERVAL_DAYS:
        return timedelta(days=PAY_INTERVAL_DAYS[employment.pay_frequency])
    dates = sorted({s.pay_date for s in employment.statements if s.pay_date is not None})
    if len(dates) < 2:
        return None
    median = sorted((b - a).days for a, b in pairwise(dates))[(len(dates) - 1) // 2]
    return timedelta(days=median) if median > 0 else None


def missed_pay(old: Employment, new: Employment, as_of: datetime, previous_as_of: datetime) -> Finding | None:
    """No new pay date since the last report, and more than 1.5 pay intervals + 3 days since the last one.

    Said once per missing pay date: when the previous report was already overdue with the same
    latest pay date, it was found then.
    """
    if not new.active:
        return None
    latest, previous = new.latest_pay_date, old.latest_pay_date
    interval = pay_interval(new)
    if latest is None or interval is None or (previous is not None and latest > previous):
        return None
    try:
        overdue = latest + interval * 1.5 + timedelta(days=3)
    except OverflowError:  # a pay date near year 9999 in a report: never overdue, never a crash
        return None
    if as_of.date() <= overdue or (previous == latest and previous_as_of.date() > overdue):
        return None
    return Finding(
        Rule.MISSED_PAY,
        Severity.HIGH,
        new.id,
        "pay_date",
        latest.isoformat(),
        None,
        detail={"expected_by": overdue.isoformat(), "interval_days": interval.days},
    )
