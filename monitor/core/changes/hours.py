"""Fewer hours: the statements new since the last report against that report's latest few."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from monitor.core.changes.findings import Finding, Rule, Severity
from monitor.core.changes.readings import Employment, Statement
from monitor.core.changes.values import drop

# Hours fall of at least this across recent statements: `hours_drop`.
HOURS_DROP = Decimal("0.20")
# Statements averaged on each side of an hours comparison.
HOURS_STATEMENTS = 3


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
