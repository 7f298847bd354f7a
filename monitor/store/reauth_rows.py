"""Reads behind `monitor reauth`: connections that need the borrower, and loans set aside (rule 13)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlmodel import Session

from monitor.core.states import ConnectionState
from monitor.store.tables import connection_table, loan_connection_table, loan_table, truv_order_table

_lc = loan_connection_table.c
_c = connection_table.c
_l = loan_table.c
_o = truv_order_table.c


@dataclass(frozen=True, slots=True)
class NeedsReauth:
    """One of a loan's connections waiting for the borrower (Bridge update mode)."""

    loan_id: str
    suborder_id: str
    link_id: str | None
    token_hash: str
    reason: str | None
    since: datetime | None
    loan_status: str
    closing_date: date | None
    kind: str = "employer"  # employer | account | insurance: which Bridge product reconnects it
    order_products: str = ""  # the original order's products, comma-separated


@dataclass(frozen=True, slots=True)
class SetAside:
    """A loan waiting for a new order or a person: its hold, or one of its connections' state."""

    loan_id: str
    needs: str
    reason: str | None
    since: datetime | None
    closing_date: date | None


@dataclass(frozen=True, slots=True)
class LoanBase:
    """Where a re-auth token is made from: the loan's newest completed order and its Truv user."""

    loan_id: str
    base_order_id: str | None
    user_id: str | None  # None also when the base order is not on record


_LOAN_CONNECTIONS = loan_connection_table.join(connection_table, _c.token_hash == _lc.token_hash).join(
    loan_table, _l.loan_id == _lc.loan_id
)


def needing_reauth(session: Session, *, loan_id: str | None = None) -> list[NeedsReauth]:
    """Soonest closing first (loans without a closing date last)."""
    q = (
        select(
            _lc.loan_id,
            _lc.suborder_id,
            _lc.link_id,
            _c.token_hash,
            _c.reason,
            _c.since,
            _l.status,
            _l.closing_date,
            _lc.kind,
            func.coalesce(_o.products, ""),
        )
        .select_from(_LOAN_CONNECTIONS.outerjoin(truv_order_table, _o.id == _lc.order_id))
        .where(_c.state == ConnectionState.NEEDS_REAUTH.value)
        .order_by(_l.closing_date.is_(None), _l.closing_date, _lc.loan_id)
    )
    if loan_id:
        q = q.where(_lc.loan_id == loan_id)
    return [NeedsReauth(*row) for row in session.execute(q)]


def set_aside(session: Session, *, loan_id: str | None = None) -> list[SetAside]:
    """Active loans on hold, then active loans with a deleted connection (`needs_new_order`)."""
    held = select(_l.loan_id, _l.hold, _l.hold_reason, _l.hold_since, _l.closing_date).where(
        _l.hold.is_not(None), _l.status == "active"
    )
    deleted = (
        select(_lc.loan_id, _c.state, _c.reason, _c.since, _l.closing_date)
        .select_from(_LOAN_CONNECTIONS)
        .where(_c.state == ConnectionState.NEEDS_NEW_ORDER.value, _l.status == "active")
    )
    if loan_id:
        held = held.where(_l.loan_id == loan_id)
        deleted = deleted.where(_lc.loan_id == loan_id)
    return [SetAside(*row) for q in (held, deleted) for row in session.execute(q)]


def loan_base(session: Session, loan_id: str) -> LoanBase | None:
    """None when there is no such loan."""
    o = truv_order_table.c
    q = (
        select(_l.loan_id, _l.base_order_id, o.user_id)
        .select_from(loan_table.outerjoin(truv_order_table, o.id == _l.base_order_id))
        .where(_l.loan_id == loan_id)
    )
    row = session.execute(q).first()
    return LoanBase(*row) if row is not None else None
