"""The compliance report's JSON shape (`report --format json`, and what its CSV and HTML are made from):
one TypedDict per section and row kind, the keys here being the output's keys."""

from __future__ import annotations

from datetime import date, datetime
from typing import TypedDict

from monitor.reports.evidence_shapes import ChangeRow, Changes, PreClosingRow
from monitor.reports.exception_shapes import Exceptions

# "from" is a keyword: the functional form is the only way to spell it.
Period = TypedDict("Period", {"from": date, "to": date})


class LoanLine(TypedDict):
    """One loan of the period (the CSV's main file, the HTML's "per loan" table)."""

    loan_id: str
    gse: bool
    status: str
    product: str | None
    order_chain: str
    refreshes_in_period: int
    gse_window_ends: datetime | None
    gse_used_in_window: int | None
    gse_free_left: int | None
    billable_in_period: int
    last_outcome: str | None
    voie_report_id: str | None
    voa_report_id: str | None
    data_as_of: datetime | None
    closing_date: date | None
    pre_closing_window_start: date | None
    pre_closing_window_days: int | None
    data_inside_pre_closing_window: bool | None


class Totals(TypedDict):
    loans: int
    refreshes: int
    billable: int
    gse_free: int
    failures: int
    blocked: int
    backlog: int
    persistent_skips: int
    needs_reauth: int
    set_aside: int
    findings: int
    closed_without_verification: int
    pre_closing_by_status: dict[str, int]


class Report(TypedDict):
    title: str
    period: Period
    generated_at: datetime
    version: str
    pre_closing_business_days: int | None
    pre_closing_windows: dict[str, int]
    totals: Totals
    loans: list[LoanLine]
    exceptions: Exceptions
    changes: Changes
    pre_closing: list[PreClosingRow]
    daily: dict[str, dict[str, int]]


# The CSV's and the HTML table's columns: the rows' keys, in their order.
LOAN_COLUMNS = tuple(LoanLine.__annotations__)
CHANGE_COLUMNS = tuple(ChangeRow.__annotations__)
