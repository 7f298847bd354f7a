"""What the outbox hands off to the lender, one TypedDict per kind, dumped as it is (sorted keys): the
JSON a lender's endpoint receives. A finding is also listed in this shape (`monitor changes`, the console)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TypedDict


class ReauthLoan(TypedDict):
    loan_id: str
    closing_date: date | None


class NeedsReauth(TypedDict):
    type: str  # "connection.needs_reauth"
    connection: str
    reason: str | None
    since: datetime
    loans: list[ReauthLoan]
    next_step: str


class ReportIds(TypedDict):
    type: str  # "refresh.report_ids"
    loan_id: str
    refresh_order_id: str
    voie_report_id: str | None
    voa_report_id: str | None
    complete: bool


class RefreshCompleted(TypedDict):
    type: str  # "refresh.completed"
    loan_id: str
    product: str
    refresh_order_id: str
    original_order_id: str
    voie_report_id: str | None
    voa_report_id: str | None
    data_as_of: datetime | None
    next_step: str | None


class NeedsNewOrder(TypedDict):
    type: str  # "loan.needs_new_order"
    loan_id: str
    reason: str
    since: datetime
    next_step: str


class FindingDict(TypedDict):
    """A finding as listed and handed off."""

    id: int | None
    loan_id: str
    rule: str
    severity: str
    confidence: str
    employment_id: str | None
    field: str | None
    before: str | None
    after: str | None
    order_id: str | None
    completed_at: datetime | None
    previous_order_id: str | None
    previous_completed_at: datetime | None
    detected_at: datetime
    detail: dict[str, object]  # the rule's own detail, as stored
    disposition: str
    disposition_note: str | None
    disposition_by: str | None
    disposition_at: datetime | None


class FindingPayload(FindingDict):
    type: str  # "loan.finding"
    next_step: str


HandOff = NeedsReauth | ReportIds | RefreshCompleted | NeedsNewOrder | FindingPayload
