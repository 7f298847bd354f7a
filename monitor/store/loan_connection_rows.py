"""A loan's connections as its original order names them, each with what the job knows of its token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from monitor.store.tables import connection_table, loan_connection_table


@dataclass(frozen=True, slots=True)
class LoanConnectionRow:
    """One of a loan's connections as its original order names it."""

    loan_id: str
    suborder_id: str
    order_id: str
    kind: str
    suborder_number: str | None
    token_hash: str
    link_id: str | None
    status: str | None
    data_as_of: datetime | None


@dataclass(frozen=True, slots=True)
class ConnectionStateRow:
    """What the job knows of a connection (shared by every loan whose orders name its token)."""

    token_hash: str
    state: str
    reason: str | None
    retry_after: datetime | None
    blocked_until: datetime | None


def loan_connections(session: Session, loan_id: str) -> list[tuple[LoanConnectionRow, ConnectionStateRow | None]]:
    lc, c = loan_connection_table.c, connection_table.c
    rows = session.execute(
        select(
            lc.loan_id,
            lc.suborder_id,
            lc.order_id,
            lc.kind,
            lc.suborder_number,
            lc.token_hash,
            lc.link_id,
            lc.status,
            lc.data_as_of,
            c.token_hash,
            c.state,
            c.reason,
            c.retry_after,
            c.blocked_until,
        )
        .select_from(loan_connection_table.outerjoin(connection_table, c.token_hash == lc.token_hash))
        .where(lc.loan_id == loan_id)
        .order_by(lc.suborder_id)
    ).all()
    return [(LoanConnectionRow(*row[:9]), ConnectionStateRow(*row[9:]) if row[9] is not None else None) for row in rows]
