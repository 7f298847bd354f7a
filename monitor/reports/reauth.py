"""Connections that need the borrower (Bridge update mode), per loan."""

from __future__ import annotations

from datetime import datetime

from monitor.reports.reauth_shapes import SetAsideLoan, WaitingConnection
from monitor.services import Context
from monitor.store import reauth_rows
from monitor.store.db import read_only, session
from monitor.truv.secrets import short


def _hours_since(since: datetime | None, now: datetime) -> float | None:
    return round((now - since).total_seconds() / 3600, 1) if since else None


def needing_reauth(services: Context, *, now: datetime, loan_id: str | None = None) -> list[WaitingConnection]:
    with session(read_only(services.engine)) as s:
        rows = reauth_rows.needing_reauth(s, loan_id=loan_id)
    return [
        {
            "loan_id": r.loan_id,
            "suborder_id": r.suborder_id,
            "link_id": r.link_id,
            "token": short(r.token_hash),
            "token_hash": r.token_hash,
            "reason": r.reason,
            "since": r.since,
            "for_hours": _hours_since(r.since, now),
            "loan_status": r.loan_status,
            "closing_date": r.closing_date,
        }
        for r in rows
    ]


def set_aside(services: Context, *, now: datetime, loan_id: str | None = None) -> list[SetAsideLoan]:
    """Loans whose refreshing has ended or waits for a person (DESIGN.md rule 13).

    `needs_new_order`: the order was finalized or expired, or a connection was deleted; only a new
    Truv order (imported with its order_id) resumes refreshing. `manual_review`: e.g. `forbidden`
    (Truv answered 403 for this loan's order: another environment's order, or no permission).
    """
    with session(read_only(services.engine)) as s:
        rows = reauth_rows.set_aside(s, loan_id=loan_id)
    # One line per loan and cause: a loan on hold for a deleted link is not listed twice.
    unique = {(r.loan_id, r.needs, r.reason): r for r in rows}
    return [
        {
            "loan_id": r.loan_id,
            "needs": r.needs,
            "reason": r.reason,
            "since": r.since,
            "for_hours": _hours_since(r.since, now),
            "closing_date": r.closing_date,
        }
        for r in sorted(
            unique.values(), key=lambda r: (r.closing_date is None, r.closing_date or now.date(), r.loan_id)
        )
    ]
