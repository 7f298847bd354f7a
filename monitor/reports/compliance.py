"""The compliance report: per loan, exceptions, totals. Built with set-based queries (one period's rows,
monitor.store.report_rows), rendered to CSV, JSON or one self-contained HTML file
(monitor.reports.compliance_files)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import assert_never

from monitor import __version__
from monitor.core.readable import failures_by_status
from monitor.core.staleness import start_of_day_utc
from monitor.core.states import ReservationState
from monitor.reports import evidence, exceptions
from monitor.reports.compliance_files import write
from monitor.reports.compliance_html import render_html
from monitor.reports.compliance_shapes import LoanLine, Report, Totals
from monitor.reports.evidence_shapes import ChangeRow, Changes, PreClosingRow
from monitor.reports.exception_shapes import Exceptions
from monitor.reports.loan_list import loan_list
from monitor.reports.loan_shapes import LoanListRow
from monitor.reports.per_loan import Windows, loan_lines
from monitor.services import Context
from monitor.store import report_rows, usage
from monitor.store.db import read_only, session
from monitor.store.report_rows import DayOutcome, FindingRow, PeriodRows

__all__ = ["build", "pre_closing_rows", "render_html", "write"]  # the report's one import path
ALL = 2**62  # `loan_list`'s limit when every row is wanted


def build(services: Context, *, start: date, end: date, now: datetime, pre_closing_days: int | None = None) -> Report:
    """`pre_closing_days` overrides every policy's `pre_closing_business_days` (None: each loan's policy's)."""
    lo, hi = start_of_day_utc(start), start_of_day_utc(end) + timedelta(days=1)
    with session(read_only(services.engine)) as s:
        rows = report_rows.period(s, lo=lo, hi=hi, closing_from=start, closing_to=end)
        standing = usage.gse_standing(s, limits=services.limits, now=now)
    policies = list(services.config.policies)
    windows = Windows(policies, pre_closing_days, rows.attributes)
    per_loan = loan_lines(rows, standing, services.limits, now=now, windows=windows)
    closing = evidence.pre_closing(rows.closings, policies=policies, override=pre_closing_days, today=now.date())
    stale = loan_list(services, now=now, stale=True, limit=ALL)["loans"]
    exc = _exceptions(rows, stale, closing, now)
    changed = changes(rows.findings)
    return {
        "title": "monitor compliance report",
        "period": {"from": start, "to": end},
        "generated_at": now,
        "version": __version__,
        # The override, else None: each loan's first matching policy's window (no window: not judged).
        "pre_closing_business_days": pre_closing_days,
        "pre_closing_windows": windows.by_policy(),
        "totals": _totals(rows, per_loan, exc, changed, closing),
        "loans": per_loan,
        "exceptions": exc,
        "changes": changed,
        "pre_closing": closing,
        "daily": _daily(rows.days, start, end),
    }


def pre_closing_rows(
    services: Context, *, start: date, end: date, now: datetime, pre_closing_days: int | None = None
) -> list[PreClosingRow]:
    """The report's pre-closing evidence alone (the console's report page shows it)."""
    with session(read_only(services.engine)) as s:
        closing = report_rows.closings(s, start=start, end=end)
    policies = list(services.config.policies)
    return evidence.pre_closing(closing, policies=policies, override=pre_closing_days, today=now.date())


def _exceptions(rows: PeriodRows, stale: list[LoanListRow], closing: list[PreClosingRow], now: datetime) -> Exceptions:
    return {
        "blocked": exceptions.blocked(rows),
        "backlog": exceptions.backlog(stale, rows),
        "persistent_skips": exceptions.persistent(rows),
        "needs_reauth": exceptions.needs_reauth(rows.needs_reauth, now),
        "set_aside": exceptions.set_aside(rows),
        "closed_without_verification": [c for c in closing if c["exception"]],
        # One label per failed suborder's status: `completed,mfa_error` counts as mfa_error.
        "failures_by_status": failures_by_status(rows.failures),
    }


def _totals(
    rows: PeriodRows, per_loan: list[LoanLine], e: Exceptions, changed: Changes, closing: list[PreClosingRow]
) -> Totals:
    return {
        "loans": len(per_loan),
        "refreshes": sum(rows.refreshed.values()),
        "billable": sum(rows.billable.values()),
        "gse_free": sum(
            rows.refreshed.get(x["loan_id"], 0) - rows.billable.get(x["loan_id"], 0) for x in per_loan if x["gse"]
        ),
        "failures": sum(rows.failures.values()),
        "blocked": len(e["blocked"]),
        "backlog": e["backlog"]["total"],
        "persistent_skips": len(e["persistent_skips"]),
        "needs_reauth": len(e["needs_reauth"]),
        "set_aside": len(e["set_aside"]),
        "findings": len(changed["findings"]),
        "closed_without_verification": len(e["closed_without_verification"]),
        "pre_closing_by_status": dict(sorted(Counter(c["status"] for c in closing).items())),
    }


def changes(rows: Sequence[FindingRow]) -> Changes:
    """Findings detected in the period: counts by severity and by rule, and the rows per loan."""
    by_severity = Counter(r.severity for r in rows)
    by_rule = Counter(f"{r.rule} ({r.severity})" for r in rows)
    return {
        "by_severity": {k: by_severity.get(k, 0) for k in ("critical", "high", "medium")},
        "by_rule": dict(sorted(by_rule.items())),
        "findings": [_change(r) for r in rows],
    }


def _change(r: FindingRow) -> ChangeRow:
    return {
        "loan_id": r.loan_id,
        "rule": r.rule,
        "severity": r.severity + (" (probable)" if r.confidence == "probable" else ""),
        "field": r.field,
        "before": r.before,
        "after": r.after,
        "order_id": r.order_id,
        "detected_at": r.detected_at,
        "id": r.id,
        "disposition": r.disposition,
        "disposition_by": r.disposition_by,
        "disposition_at": r.disposition_at,
        "disposition_note": r.disposition_note,
    }


def _daily(days: list[DayOutcome], start: date, end: date) -> dict[str, dict[str, int]]:
    """Every day of the period (UTC), those without a refresh too: one bar per day."""
    daily: dict[str, Counter[str]] = defaultdict(Counter)
    for d in days:
        daily[d.reserved_at.astimezone(UTC).date().isoformat()][_bucket(d.state)] += 1
    every = (start + timedelta(days=i) for i in range((end - start).days + 1))
    return {day.isoformat(): dict(daily.get(day.isoformat(), {})) for day in every}


def _bucket(state: str) -> str:
    """The daily chart's group for a reservation's state."""
    match ReservationState(state):
        case ReservationState.COMPLETED:
            return "completed"
        case ReservationState.FAILED:
            return "failed"
        case ReservationState.REFUSED | ReservationState.DECLINED | ReservationState.RELEASED | ReservationState.LOST:
            return "not created"
        case ReservationState.RESERVED | ReservationState.SENT | ReservationState.ACCEPTED | ReservationState.UNKNOWN:
            return "pending"
        case unreachable:
            assert_never(unreachable)
