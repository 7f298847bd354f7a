"""The JSON shapes of `loans show --json` and `loans list --json` (and the console's loan pages), one
TypedDict per section: dumped as-is, the keys here being the output's, in order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import NotRequired, TypedDict

from monitor.reports.evidence_shapes import PreClosingRow


class Decision(TypedDict):
    """What the next pass would do for the loan under one policy, and why."""

    policy: str
    product: str
    data_as_of: datetime | None
    decision: str  # none, skip, read_order, refresh
    reason: str
    next_eligible: datetime | None
    hold: NotRequired[str | None]  # on hold: which hold, and why
    hold_reason: NotRequired[str | None]
    order_products: NotRequired[str | None]  # product_not_allowed: what the order has
    tokens: NotRequired[list[str]]  # refresh: the tokens it would spend on, and what it leaves out
    billable: NotRequired[bool]
    held: NotRequired[dict[str, int]]


class LoanFacts(TypedDict):
    loan_id: str
    gse: bool
    status: str
    closing_date: date | None
    order_id: str
    original_order_id: str | None
    data_as_of: datetime | None
    details_fetched_at: datetime | None
    gse_window_start: datetime | None
    hold: str | None
    hold_reason: str | None
    hold_since: datetime | None
    next_attempt_at: datetime | None
    attention: str | None
    attributes: dict[str, str | bool]


class ConnectionView(TypedDict):
    kind: str
    suborder_id: str
    order_id: str
    token: str
    data_as_of: datetime | None
    state: str | None
    reason: str | None
    retry_after: datetime | None
    truv_blocked_until: datetime | None
    uses_24h: int
    limit: int
    next_slot_frees: datetime | None


class OrderView(TypedDict):
    id: str
    initial_order: str | None
    refresh_order: str | None
    products: str
    created_at: datetime | None
    voie_report_id: str | None
    voa_report_id: str | None


class OutcomeView(TypedDict):
    id: str
    policy: str
    product: str
    state: str
    outcome: str | None
    reserved_at: datetime
    settled_at: datetime | None
    refresh_order_id: str | None


class TimelineEntry(TypedDict):
    at: datetime
    kind: str
    run_id: str | None
    detail: object  # the audit entry's JSON detail, as written (its text when it is not JSON)


class LoanShow(TypedDict):
    now: datetime
    loan: LoanFacts
    policies: list[str]
    connections: list[ConnectionView]
    decisions: list[Decision]
    next_eligible: datetime | None
    orders: list[OrderView]
    outcomes: list[OutcomeView]
    findings: Sequence[Mapping[str, object]]  # as monitor.store.monitoring reads them
    pre_closing: list[PreClosingRow]
    timeline: list[TimelineEntry]


class LoanListRow(TypedDict):
    loan_id: str
    status: str
    gse: bool
    closing_date: date | None
    data_as_of: datetime | None
    hold: str | None
    hold_reason: str | None
    policies: list[str]
    stale_for: list[str]
    last_outcome: str | None
    last_outcome_at: datetime | None
    last_skip_reason: str | None


class LoanList(TypedDict):
    now: datetime
    loans: list[LoanListRow]
    total: int
    truncated: bool
