"""Connections that need the borrower (Bridge update mode), per loan."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from monitor.app import Services
from monitor.store.db import read_only, session
from monitor.store.tables import Connection, Loan, LoanConnection
from monitor.truv.secrets import short


def needing_reauth(services: Services, *, now: datetime, loan_id: str | None = None) -> list[dict[str, Any]]:
    with session(read_only(services.engine)) as s:
        q = (
            select(
                LoanConnection.loan_id,
                LoanConnection.suborder_id,
                LoanConnection.link_id,
                Connection.token_hash,
                Connection.reason,
                Connection.since,
                Loan.status,
                Loan.closing_date,
            )
            .join(Connection, Connection.token_hash == LoanConnection.token_hash)  # type: ignore[arg-type]
            .join(Loan, Loan.loan_id == LoanConnection.loan_id)  # type: ignore[arg-type]
            .where(Connection.state == "needs_reauth")
            .order_by(Loan.closing_date.is_(None), Loan.closing_date, LoanConnection.loan_id)  # type: ignore[union-attr]
        )
        if loan_id:
            q = q.where(LoanConnection.loan_id == loan_id)
        rows = s.execute(q).all()
    return [
        {
            "loan_id": r[0],
            "suborder_id": r[1],
            "link_id": r[2],
            "token": short(r[3]),
            "token_hash": r[3],
            "reason": r[4],
            "since": r[5],
            "for_hours": round((now - r[5]).total_seconds() / 3600, 1) if r[5] else None,
            "loan_status": r[6],
            "closing_date": r[7],
        }
        for r in rows
    ]


def set_aside(services: Services, *, now: datetime, loan_id: str | None = None) -> list[dict[str, Any]]:
    """Loans whose refreshing has ended or waits for a person (DESIGN.md rule 13).

    `needs_new_order`: the order was finalized or expired, or a connection was deleted; only a new
    Truv order (imported with its order_id) resumes refreshing. `manual_review`: e.g. `forbidden`
    (Truv answered 403 for this loan's order: another environment's order, or no permission).
    """
    with session(read_only(services.engine)) as s:
        q = select(Loan.loan_id, Loan.hold, Loan.hold_reason, Loan.hold_since, Loan.closing_date).where(
            Loan.hold.is_not(None),
            Loan.status == "active",  # type: ignore[union-attr]
        )
        c = (
            select(LoanConnection.loan_id, Connection.state, Connection.reason, Connection.since, Loan.closing_date)
            .join(Connection, Connection.token_hash == LoanConnection.token_hash)  # type: ignore[arg-type]
            .join(Loan, Loan.loan_id == LoanConnection.loan_id)  # type: ignore[arg-type]
            .where(Connection.state == "needs_new_order", Loan.status == "active")
        )
        if loan_id:
            q = q.where(Loan.loan_id == loan_id)
            c = c.where(LoanConnection.loan_id == loan_id)
        rows = {(r[0], r[1], r[2]): r for r in [*s.execute(q).all(), *s.execute(c).all()]}
    return [
        {
            "loan_id": r[0],
            "needs": r[1],
            "reason": r[2],
            "since": r[3],
            "for_hours": round((now - r[3]).total_seconds() / 3600, 1) if r[3] else None,
            "closing_date": r[4],
        }
        for r in sorted(rows.values(), key=lambda r: (r[4] is None, r[4] or now.date(), r[0]))
    ]
