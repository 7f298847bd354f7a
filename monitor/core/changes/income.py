"""Income and pay rules: a fall in income or pay rate, a change of pay terms. Each field is compared only
with the same field, in the same unit, of the previous report."""

from __future__ import annotations

from decimal import Decimal

from monitor.core.changes.findings import Finding, Rule, Severity, Thresholds
from monitor.core.changes.readings import Employment
from monitor.core.changes.values import drop


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
