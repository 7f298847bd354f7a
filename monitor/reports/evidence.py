"""The report's monitoring parts: what changed (findings) and pre-closing evidence per loan.

Pre-closing (Fannie Mae B3-3.1-07, Freddie Mac 5102.4, FHA): the verification must fall within N
business days before the note date. N is the first matching policy's `pre_closing_business_days`
(DEFAULT_WINDOW when no policy sets one), unless the report's `--pre-closing-days` overrides it for
every loan; a loan that closed without a completed verification inside its window is an exception.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from monitor.config import PolicyConfig
from monitor.core.calendar import subtract_business_days
from monitor.core.matching import matches
from monitor.core.staleness import start_of_day_utc
from monitor.store.ledger_rows import NO_REPORT_IDS, ReportIds
from monitor.store.report_rows import Closing, Completion, FindingRow


def changes(rows: Sequence[FindingRow]) -> dict[str, Any]:
    """Findings detected in the period: counts by severity and by rule, and the rows per loan."""
    by_severity = Counter(r.severity for r in rows)
    by_rule = Counter(f"{r.rule} ({r.severity})" for r in rows)
    return {
        "by_severity": {k: by_severity.get(k, 0) for k in ("critical", "high", "medium")},
        "by_rule": dict(sorted(by_rule.items())),
        "findings": [
            {
                "loan_id": r.loan_id,
                "rule": r.rule,
                "severity": r.severity + (" (probable)" if r.confidence == "probable" else ""),
                "field": r.field,
                "before": r.before,
                "after": r.after,
                "order_id": r.order_id,
                "detected_at": r.detected_at,
            }
            for r in rows
        ],
    }


DEFAULT_WINDOW = 10  # business days: Fannie Mae's verbal VOE window, for loans no policy gives one


def window_days(
    fields: dict[str, Any], policies: Sequence[PolicyConfig], *, default: int = DEFAULT_WINDOW, override: int | None
) -> int:
    """The loan's pre-closing window: the override, else its first matching policy's that sets one."""
    if override is not None:
        return override
    for policy in policies:
        if policy.pre_closing_business_days and matches(policy.match, fields):
            return policy.pre_closing_business_days
    return default


def _evidence(loan: Closing, days: int, report_ids: dict[str, ReportIds], now: datetime) -> dict[str, Any]:
    window = subtract_business_days(loan.closing_date, days)
    closes_at = start_of_day_utc(loan.closing_date) + timedelta(days=1)
    last: Completion | None = max(
        (c for c in loan.completions if c.settled_at < closes_at),
        key=lambda c: (c.settled_at, c.refresh_order_id or ""),
        default=None,
    )
    inside = last is not None and last.settled_at >= start_of_day_utc(window)
    order_id = last.refresh_order_id if last else None
    return {
        "loan_id": loan.loan_id,
        "closing_date": loan.closing_date,
        "window_days": days,
        "window_start": window,
        "last_verification": last.settled_at if last else None,
        "refresh_order_id": order_id,
        "voie_report_id": report_ids.get(order_id, NO_REPORT_IDS).voie if order_id else None,
        "inside_window": inside,
        # Closed (or closing today) without a verification in its window: an exception.
        "exception": not inside and closes_at <= now + timedelta(days=1),
    }


def pre_closing(
    closings: Sequence[Closing],
    *,
    report_ids: dict[str, ReportIds],
    policies: list[PolicyConfig],
    override: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Loans closing in the period: their last completed verification and whether it was in time."""
    out = []
    for loan in sorted(closings, key=lambda c: (c.closing_date, c.loan_id)):
        fields = {"gse": loan.gse, "status": loan.status, "loan_id": loan.loan_id, "order_id": loan.order_id}
        days = window_days({**fields, **loan.attributes}, policies, override=override)
        out.append(_evidence(loan, days, report_ids, now))
    return out
