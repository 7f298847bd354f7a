"""The ledger view's JSON shape (`monitor ledger --json`, the console's ledger page), one TypedDict per
section: dumped as-is, so the keys here are the output's keys, in its order."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict


class TokenRow(TypedDict):
    token: str
    used_24h: int
    limit: int
    next_slot_frees: datetime | None
    exhausted: bool
    truv_blocked_until: datetime | None


class GseLoanRow(TypedDict):
    loan_id: str
    window_start: datetime | None
    window_ends: datetime | None
    in_window: bool
    used_in_window: int
    limit: int
    free_left: int
    exhausted: bool


class ReservationView(TypedDict):
    id: str
    loan_id: str
    product: str
    policy: str
    tokens: list[str]
    state: str
    outcome: str | None
    reserved_at: datetime
    settled_at: datetime | None
    parent_order_id: str
    refresh_order_id: str | None
    voie_report_id: str | None
    voa_report_id: str | None
    gse: bool
    billable: bool
    run_id: str


class LedgerTotals(TypedDict):
    reservations: int
    tokens: int
    gse_loans: int


class LedgerTruncated(TypedDict):
    reservations: bool
    tokens: bool
    gse_loans: bool


class LedgerView(TypedDict):
    now: datetime
    totals: LedgerTotals
    truncated: LedgerTruncated
    reservations: list[ReservationView]
    tokens: list[TokenRow]
    gse_loans: list[GseLoanRow]
