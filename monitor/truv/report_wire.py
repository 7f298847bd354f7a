"""Truv's link income / employment report -> the small snapshot monitoring compares (truv-api.md section 9).

Only the fields `monitor.core.changes` needs are read; everything else of the report, and its
`access_token` above all, goes no further than this function.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.core.changes import Employment, Snapshot, Statement, day, money
from monitor.truv.wire import parse_time

# The latest statements kept per employment: enough for the pay interval and a missed pay date.
STATEMENTS_KEPT = 6


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


# Truv documents no leave-of-absence field; a pay stub's earnings line named as leave is what shows it
# (README "Where Truv is silent"). Matched on whole words in the line's name or category.
_LEAVE_WORDS = frozenset({"leave", "loa", "fmla", "std", "disability", "furlough"})


def _on_leave(earnings: Any) -> bool:
    if not isinstance(earnings, list):
        return False
    for line in earnings:
        if not isinstance(line, dict):
            continue
        text = " ".join(str(line.get(k) or "") for k in ("name", "category", "type")).lower()
        words = set(text.replace("-", " ").replace("_", " ").replace("/", " ").split())
        if words & _LEAVE_WORDS:
            return True
    return False


def _statement(item: dict[str, object]) -> Statement:
    return Statement(
        pay_date=day(item.get("pay_date")),
        gross_pay=money(item.get("gross_pay")),
        hours=money(item.get("hours")),
        basis_of_pay=_text(item.get("basis_of_pay")),
        gross_pay_ytd=money(item.get("gross_pay_ytd")),
        net_pay_ytd=money(item.get("net_pay_ytd")),
        leave=_on_leave(item.get("earnings")),
    )


def _employment(item: dict[str, object]) -> Employment:
    given = item.get("company")
    company: dict[str, object] = given if isinstance(given, dict) else {}
    given_statements = item.get("statements")
    listed = given_statements if isinstance(given_statements, list) else []
    statements = [_statement(s) for s in listed if isinstance(s, dict)]
    statements.sort(key=lambda s: s.pay_date.toordinal() if s.pay_date else 0, reverse=True)
    active = item.get("is_active")
    derived = item.get("derived_fields")
    return Employment(
        id=str(item.get("id")),
        company=_text(company.get("name")),
        ein=_text(company.get("ein")),
        is_active=active if isinstance(active, bool) else None,
        start_date=day(item.get("start_date")),
        end_date=day(item.get("end_date")),
        original_hire_date=day(item.get("original_hire_date")),
        job_type=_text(item.get("job_type")),
        income=money(item.get("income")),
        income_unit=_text(item.get("income_unit")),
        pay_rate=money(item.get("pay_rate")),
        pay_frequency=_text(item.get("pay_frequency")),
        derived_fields=tuple(str(x) for x in derived if isinstance(x, str)) if isinstance(derived, list) else (),
        statements=tuple(statements[:STATEMENTS_KEPT]),
    )


def parse_report(body: Any, *, fallback_as_of: datetime) -> Snapshot:
    """A report object -> Snapshot; `as_of` is the report's documented `completed_at`, else the refresh's."""
    if not isinstance(body, dict):
        raise ValueError("a report object must be a JSON object")
    items = body.get("employments")
    if not isinstance(items, list):
        raise ValueError("a report object needs an employments list")
    as_of = parse_time(body.get("completed_at")) or fallback_as_of
    return Snapshot(
        employments=tuple(_employment(e) for e in items if isinstance(e, dict) and e.get("id") is not None),
        as_of=as_of,
    )
