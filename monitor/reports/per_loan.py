"""The compliance report's per-loan lines: each loan's refreshes, GSE standing, last outcome, report ids
and whether its data falls inside its pre-closing window."""

from __future__ import annotations

from datetime import date, datetime

from monitor.config import PolicyConfig
from monitor.core.budget import GseTerms, Limits, gse_terms
from monitor.core.calendar import subtract_business_days
from monitor.core.matching import matches
from monitor.core.staleness import start_of_day_utc
from monitor.reports.compliance_shapes import LoanLine
from monitor.reports.evidence_shapes import loan_fields
from monitor.store.ledger_rows import NO_REPORT_IDS
from monitor.store.report_rows import PeriodRows, ReportLoan


class Windows:
    """Each loan's pre-closing window, in business days: the override, else its policy's."""

    def __init__(self, policies: list[PolicyConfig], override: int | None, attributes: dict[str, dict[str, str]]):
        self.policies, self.override, self.attributes = policies, override, attributes

    def days(self, loan: ReportLoan) -> int | None:
        """None: no policy with a window matches the loan, and no override (the loan is not judged)."""
        if self.override is not None:
            return self.override
        fields = loan_fields(
            gse=loan.gse,
            status=loan.status,
            loan_id=loan.loan_id,
            order_id=loan.order_id,
            attributes=self.attributes.get(loan.loan_id, {}),
        )
        return next(
            (
                p.pre_closing_business_days
                for p in self.policies
                if p.pre_closing_business_days and matches(p.match, fields)
            ),
            None,
        )

    def by_policy(self) -> dict[str, int]:
        if self.override is not None:
            return {"all loans (--pre-closing-days)": self.override}
        return {p.name: p.pre_closing_business_days for p in self.policies if p.pre_closing_business_days}


class _Standing:
    """Where each GSE loan stands in its free window; the loans without a counting use start afresh."""

    def __init__(self, standing: dict[str, GseTerms], limits: Limits, now: datetime):
        self.standing, self.limits, self.now = standing, limits, now

    def of(self, loan: ReportLoan) -> GseTerms | None:
        if not loan.gse:
            return None
        return self.standing.get(loan.loan_id) or gse_terms(
            window_start=loan.gse_window_start, uses=[], limits=self.limits, now=self.now
        )


def loan_lines(
    rows: PeriodRows, standing: dict[str, GseTerms], limits: Limits, *, now: datetime, windows: Windows
) -> list[LoanLine]:
    """Active loans, and loans refreshed in the period whatever their status now."""
    gse = _Standing(standing, limits, now)
    return [
        _line(loan, rows, gse.of(loan), window_days=windows.days(loan))
        for loan in rows.loans
        if loan.status == "active" or loan.loan_id in rows.refreshed
    ]


def _line(loan: ReportLoan, rows: PeriodRows, terms: GseTerms | None, *, window_days: int | None) -> LoanLine:
    root = loan.order_id
    window = subtract_business_days(loan.closing_date, window_days) if loan.closing_date and window_days else None
    last = rows.last.get(loan.loan_id)
    product, outcome = (last.product, last.outcome) if last else (None, None)
    ends, used, free_left = _gse_columns(terms)
    ids = rows.report_ids.get(loan.base_order_id or root, NO_REPORT_IDS)
    return {
        "loan_id": loan.loan_id,
        "gse": loan.gse,
        "status": loan.status,
        "product": product,
        "order_chain": " > ".join([root, *[o for o in rows.chains.get(loan.loan_id, []) if o != root]]),
        "refreshes_in_period": rows.refreshed.get(loan.loan_id, 0),
        "gse_window_ends": ends,
        "gse_used_in_window": used,
        "gse_free_left": free_left,
        "billable_in_period": rows.billable.get(loan.loan_id, 0),
        "last_outcome": outcome,
        "voie_report_id": ids.voie,
        "voa_report_id": ids.voa,
        "data_as_of": loan.data_as_of,
        "closing_date": loan.closing_date,
        "pre_closing_window_start": window,
        "pre_closing_window_days": window_days if window else None,
        "data_inside_pre_closing_window": _inside(loan.data_as_of, window),
    }


def _gse_columns(terms: GseTerms | None) -> tuple[datetime | None, int | None, int | None]:
    """Where a GSE loan stands in its free window: its end, the uses in it, the free ones left (0 past
    it); empty for any other loan."""
    if terms is None:
        return None, None, None
    return terms.window_end, terms.used, terms.free_left if terms.in_window else 0


def _inside(data_as_of: datetime | None, window: date | None) -> bool | None:
    if window is None:
        return None
    return data_as_of is not None and data_as_of >= start_of_day_utc(window)
