"""`monitor reauth list --json`'s rows (and the console's re-auth queue): connections waiting for the
borrower, loans set aside. Dumped as-is: the keys here are the output's, in order."""

from __future__ import annotations

from datetime import date, datetime
from typing import TypedDict


class WaitingConnection(TypedDict):
    loan_id: str
    suborder_id: str
    link_id: str | None
    token: str
    token_hash: str
    reason: str | None
    since: datetime | None
    for_hours: float | None
    loan_status: str
    closing_date: date | None


class SetAsideLoan(TypedDict):
    loan_id: str
    needs: str
    reason: str | None
    since: datetime | None
    for_hours: float | None
    closing_date: date | None
