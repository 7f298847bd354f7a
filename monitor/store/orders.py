"""Order details and connection state: what a refresh needs, kept so we need not re-read Truv."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from monitor.store.db import upsert_insert
from monitor.store.tables import Connection, Loan, LoanConnection, TruvOrder
from monitor.truv.wire import OrderInfo


def save_order(session: Session, loan_id: str, info: OrderInfo, *, now: datetime) -> None:
    row = session.get(TruvOrder, info.id) or TruvOrder(id=info.id, loan_id=loan_id, products="", fetched_at=now)
    row.loan_id = loan_id
    # An order rebuilt from webhooks knows less than one read from Truv: never forget what we knew.
    row.initial_order = info.initial_order or row.initial_order
    row.refresh_order = info.refresh_order or row.refresh_order
    row.products = ",".join(info.products) or row.products
    row.user_id = info.user_id or row.user_id
    row.order_number = info.order_number or row.order_number
    row.created_at = info.created_at or row.created_at
    row.fetched_at = now
    session.add(row)


def set_base(
    session: Session, loan: Loan, info: OrderInfo, *, now: datetime, completed_at: dict[str, datetime] | None = None
) -> None:
    """Make `info` the order the loan's next refresh is made from.

    Each connection keeps its own data date: `completed_at` (token -> when its data was fetched)
    for the ones this order refreshed, the previous date for the others.
    """
    previous = {
        c.token_hash: c.data_as_of
        for c in session.exec(
            select(LoanConnection).where(LoanConnection.loan_id == loan.loan_id)  # type: ignore[arg-type]
        ).scalars()
    }
    session.execute(delete(LoanConnection.__table__).where(LoanConnection.__table__.c.loan_id == loan.loan_id))
    for sub in info.suborders:
        if not sub.token_hash:
            continue  # a suborder with no connection (e.g. documents) cannot be refreshed
        as_of = (completed_at or {}).get(sub.token_hash) or previous.get(sub.token_hash) or loan.data_as_of
        session.add(
            LoanConnection(
                loan_id=loan.loan_id,
                suborder_id=sub.id,
                order_id=info.id,
                kind=sub.kind,
                suborder_number=sub.suborder_number,
                token_hash=sub.token_hash,
                link_id=sub.link_id,
                status=sub.status,
                data_as_of=as_of,
            )
        )
        ensure_connection(session, sub.token_hash, now=now, link_id=sub.link_id, user_id=info.user_id)
    session.flush()
    loan.base_order_id = info.id
    loan.details_fetched_at = now
    loan.updated_at = now
    session.add(loan)
    refresh_data_date(session, loan)


def refresh_data_date(session: Session, loan: Loan) -> None:
    """A loan's data is as old as its oldest connection's data."""
    oldest = session.execute(
        select(func.min(LoanConnection.data_as_of), func.count()).where(LoanConnection.loan_id == loan.loan_id)  # type: ignore[arg-type]
    ).one()
    has_null = session.execute(
        select(func.count()).where(LoanConnection.loan_id == loan.loan_id, LoanConnection.data_as_of.is_(None))  # type: ignore[union-attr,arg-type]
    ).scalar_one()
    if oldest[1]:
        loan.data_as_of = None if has_null else oldest[0]
        session.add(loan)


def mark_connection_data(session: Session, loan_id: str, token: str, at: datetime) -> None:
    lc = LoanConnection.__table__.c
    session.execute(
        update(LoanConnection.__table__).where(lc.loan_id == loan_id, lc.token_hash == token).values(data_as_of=at)
    )


def ensure_connection(
    session: Session, token: str, *, now: datetime, link_id: str | None = None, user_id: str | None = None
) -> None:
    """Insert the connection row unless it exists; loans sharing a token may race to create it."""
    insert = partial(upsert_insert, session)
    session.execute(
        insert(Connection.__table__)
        .values(token_hash=token, link_id=link_id, user_id=user_id, state="ok", failures=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["token_hash"])
    )


def locked_connection(session: Session, token: str, *, now: datetime) -> Connection:
    ensure_connection(session, token, now=now)
    row = (
        session.execute(
            select(Connection).where(Connection.token_hash == token).with_for_update()  # type: ignore[arg-type]
        )
        .scalars()
        .one()
    )
    return row


def set_connection_state(
    session: Session,
    token: str,
    *,
    state: str,
    reason: str | None,
    now: datetime,
    retry_after: datetime | None = None,
    failed: bool = False,
) -> Connection:
    row = locked_connection(session, token, now=now)
    if row.state != state:
        row.since = now
        if state == "needs_reauth":
            from monitor.store.outbox import enqueue_reauth

            enqueue_reauth(session, token=token, reason=reason, since=now, now=now)
    row.state = state
    row.reason = reason
    row.retry_after = retry_after
    row.failures = (row.failures or 0) + 1 if failed else 0
    row.updated_at = now
    session.add(row)
    return row


def save_suborders(session: Session, info: OrderInfo) -> None:
    """Remember a refresh order's employers/accounts: webhooks name them by id, not by token."""
    from monitor.store.tables import OrderSuborder

    for sub in info.suborders:
        row = session.get(OrderSuborder, (info.id, sub.id)) or OrderSuborder(
            order_id=info.id, suborder_id=sub.id, kind=sub.kind
        )
        row.token_hash = sub.token_hash
        row.link_id = sub.link_id
        row.status = sub.status
        row.updated_at = sub.updated_at
        session.add(row)
