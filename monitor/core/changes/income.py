"""Income and pay rules: a fall in income or pay rate, a change of pay terms, fewer hours, a missed pay
date. Each field is compared only with the same field, in the same unit, of the previous report."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from monitor.core.changes.findings import Finding, Rule, Severity, Thresholds, drop
from monitor.core.changes.readings import Employment, Statement

# Days between pay dates per Truv pay_frequency (M, SM, W, BW, A; C is contract: no schedule).
PAY_INTERVAL_DAYS = {"W": 7.0, "BW": 14.0, "SM": 365.25 / 24, "M": 365.25 / 12, "A": 365.25}
# Hours fall of at least this across recent statements: `hours_drop`.
HOURS_DROP = Decimal("0.20")
# Statements averaged on each side of an hours comparison.
HOURS_STATEMENTS = 3


def income_drops(old: Employment, new: Employment, t: Thresholds, *, skip_income: bool = False) -> list[Finding]:
    out = []
    pairs = (
        ("income", old.income, new.income, old.income_unit, new.income_unit),
        ("pay_rate", old.pay_rate, new.pay_rate, old.pay_frequency, new.pay_frequency),
    )
    for name, was, now, unit_was, unit_now in pairs:
        if unit_was != unit_now or (name == "income" and skip_income):
            continue  # another unit is another figure: never a drop (pay_change says it)
        fall = drop(was, now)
        if fall is None or fall < t.review:
            continue
        severity = Severity.HIGH if fall >= t.material else Severity.MEDIUM
        detail = {"fall": str(fall.quantize(Decimal("0.0001"))), "unit": unit_now}
        out.append(Finding(Rule.INCOME_DROP, severity, new.id, name, str(was), str(now), detail=detail))
    return out


def pay_changes(old: Employment, new: Employment) -> list[Finding]:
    out = []
    for name, was, now in (
        ("job_type", old.job_type, new.job_type),
        ("pay_frequency", old.pay_frequency, new.pay_frequency),
        ("basis_of_pay", old.latest_basis_of_pay, new.latest_basis_of_pay),
    ):
        if was is not None and now is not None and was != now:
            if name == "job_type" and (was, now) == ("F", "P"):
                # Full-time to part-time: the income underwritten may no longer be there (B3-3.1-07).
                out.append(Finding(Rule.JOB_TYPE_CHANGE, Severity.HIGH, new.id, name, was, now))
                continue
            out.append(Finding(Rule.PAY_CHANGE, Severity.MEDIUM, new.id, name, was, now))
    return out


def _average_hours(statements: list[Statement]) -> Decimal | None:
    known = [s.hours for s in statements if s.hours is not None]
    return sum(known, Decimal(0)) / len(known) if known else None


def hours_drop(old: Employment, new: Employment) -> Finding | None:
    """Average hours of the statements new since the last report, against the last report's latest few."""

    def newest(stmts: tuple[Statement, ...]) -> list[Statement]:
        dated = sorted((s for s in stmts if s.pay_date is not None), key=lambda s: s.pay_date or date.min)
        return dated[-HOURS_STATEMENTS:]

    last = old.latest_pay_date
    before = newest(old.statements)
    since = newest(tuple(s for s in new.statements if s.pay_date is not None and (last is None or s.pay_date > last)))
    was, now = _average_hours(before), _average_hours(since)
    fall = drop(was, now)
    if fall is None or fall < HOURS_DROP:
        return None
    q = Decimal("0.01")
    return Finding(
        Rule.HOURS_DROP,
        Severity.MEDIUM,
        new.id,
        "hours",
        str(was.quantize(q)) if was is not None else None,
        str(now.quantize(q)) if now is not None else None,
        detail={"fall": str(fall.quantize(Decimal("0.0001"))), "statements": len(since)},
    )


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
