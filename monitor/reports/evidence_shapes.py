"""The JSON shapes of the report's monitoring parts (findings, pre-closing evidence), dumped as-is by
`report --format json`, `loans show --json` and the console: the keys here are the output's, in order."""

from __future__ import annotations

from datetime import date, datetime
from typing import TypedDict

# What a policy's `match` is judged on: the loan's own columns and its imported attributes.
LoanFields = dict[str, str | bool]


class PreClosingFinding(TypedDict):
    id: int
    rule: str
    severity: str
    disposition: str
    note: str | None
    by: str | None
    at: datetime | None


class PreClosingRow(TypedDict):
    """One loan's evidence of one kind (or its one `not_covered` row)."""

    loan_id: str
    evidence: str
    closing_date: date
    rule: str | None
    window_start: datetime | None
    window_end: datetime | None
    status: str
    exception: bool
    order_id: str | None
    product: str | None
    outcome: str | None
    report_id: str | None
    data_as_of: datetime | None
    employers_verified: list[str]
    findings: list[PreClosingFinding]


class ChangeRow(TypedDict):
    """A finding detected in the period (income monitoring), with its disposition."""

    loan_id: str
    rule: str
    severity: str
    field: str | None
    before: str | None
    after: str | None
    order_id: str | None
    detected_at: datetime
    id: int
    disposition: str
    disposition_by: str | None
    disposition_at: datetime | None
    disposition_note: str | None


class Changes(TypedDict):
    by_severity: dict[str, int]
    by_rule: dict[str, int]
    findings: list[ChangeRow]


def loan_fields(*, gse: bool, status: str, loan_id: str, order_id: str, attributes: dict[str, str]) -> LoanFields:
    """The loan's columns, then its attributes (an attribute of the same name wins, as on import)."""
    return {"gse": gse, "status": status, "loan_id": loan_id, "order_id": order_id, **attributes}
