"""The report's monitoring parts: what changed (findings) and pre-closing evidence per loan.

Pre-closing (Fannie Mae B3-3.1-07, Freddie Mac 5102.4, FHA): the verification must fall within N
business days before the note date. N is the first matching policy's `pre_closing_business_days`
(the report's `--pre-closing-days` when no policy sets one); a loan that closed without a completed
verification inside its window is an exception.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from monitor.config import PolicyConfig
from monitor.core.calendar import subtract_business_days
from monitor.core.matching import matches
from monitor.core.staleness import start_of_day_utc
from monitor.store.tables import Finding, Loan, LoanAttribute, Reservation, TruvOrder


def changes(s: Any, *, lo: datetime, hi: datetime) -> dict[str, Any]:
    """Findings detected in the period: counts by severity and by rule, and the rows per loan."""
    rows = list(
        s.execute(
            select(Finding)
            .where(Finding.detected_at >= lo, Finding.detected_at < hi)  # type: ignore[arg-type,operator]
            .order_by(Finding.loan_id, Finding.detected_at)  # type: ignore[arg-type]
        ).scalars()
    )
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


def _window_days(fields: dict[str, Any], policies: list[PolicyConfig], default: int) -> int:
    for policy in policies:
        if policy.pre_closing_business_days and matches(policy.match, fields):
            return policy.pre_closing_business_days
    return default


def pre_closing(
    s: Any, *, policies: list[PolicyConfig], default_days: int, start: date, end: date, now: datetime
) -> list[dict[str, Any]]:
    """Loans closing in the period: their last completed verification and whether it was in time."""
    loans = s.execute(
        select(Loan.loan_id, Loan.gse, Loan.status, Loan.order_id, Loan.closing_date).where(
            Loan.closing_date.is_not(None),  # type: ignore[union-attr]
            Loan.closing_date >= start,  # type: ignore[operator]
            Loan.closing_date <= end,  # type: ignore[operator]
        )
    ).all()
    if not loans:
        return []
    ids = [row[0] for row in loans]
    attributes: dict[str, dict[str, str]] = defaultdict(dict)
    for loan_id, key, value in s.execute(
        select(LoanAttribute.loan_id, LoanAttribute.key, LoanAttribute.value).where(LoanAttribute.loan_id.in_(ids))  # type: ignore[attr-defined]
    ):
        attributes[loan_id][key] = value
    done: dict[str, list[tuple[datetime, str | None]]] = defaultdict(list)
    for loan_id, settled, order_id in s.execute(
        select(Reservation.loan_id, Reservation.settled_at, Reservation.refresh_order_id).where(
            Reservation.loan_id.in_(ids),  # type: ignore[attr-defined]
            Reservation.state == "completed",
        )
    ):
        if settled is not None:
            done[loan_id].append((settled, order_id))
    report_ids = dict(
        s.execute(
            select(TruvOrder.id, TruvOrder.voie_report_id).where(
                TruvOrder.id.in_([o for v in done.values() for _, o in v if o])  # type: ignore[attr-defined]
            )
        ).all()
    )
    out = []
    for loan_id, gse, status, order_id, closing in sorted(loans, key=lambda r: (r[4], r[0])):
        fields = {"gse": gse, "status": status, "loan_id": loan_id, "order_id": order_id, **attributes[loan_id]}
        days = _window_days(fields, policies, default_days)
        window = subtract_business_days(closing, days)
        closes_at = start_of_day_utc(closing) + timedelta(days=1)
        before_closing = [x for x in done.get(loan_id, []) if x[0] < closes_at]
        last = max(before_closing, default=None)
        inside = last is not None and last[0] >= start_of_day_utc(window)
        out.append(
            {
                "loan_id": loan_id,
                "closing_date": closing,
                "window_days": days,
                "window_start": window,
                "last_verification": last[0] if last else None,
                "refresh_order_id": last[1] if last else None,
                "voie_report_id": report_ids.get(last[1]) if last and last[1] else None,
                "inside_window": inside,
                # Closed (or closing today) without a verification in its window: an exception.
                "exception": not inside and closes_at <= now + timedelta(days=1),
            }
        )
    return out
