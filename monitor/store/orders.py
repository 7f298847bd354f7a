"""Order details and connection state: what a refresh needs, kept so we need not re-read Truv."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from functools import partial

from sqlalchemy import delete, func, or_, select, update
from sqlmodel import Session

from monitor.store.db import upsert_insert
from monitor.store.tables import (
    Connection,
    Loan,
    LoanConnection,
    OrderSuborder,
    TruvOrder,
    connection_table,
    loan_connection_table,
)
from monitor.truv.wire import OrderInfo, connection_date, connection_dates


def save_order(session: Session, loan_id: str, info: OrderInfo, *, now: datetime) -> None:
    row = session.get(TruvOrder, info.id) or TruvOrder(id=info.id, loan_id=loan_id, products="", fetched_at=now)
    row.loan_id = loan_id
    # Truv's answers differ in what they carry (a refresh POST's answer, a GET of the order): a field one
    # leaves out does not erase what another recorded.
    row.initial_order = info.initial_order or row.initial_order
    row.refresh_order = info.refresh_order or row.refresh_order
    row.products = ",".join(info.products) or row.products
    row.user_id = info.user_id or row.user_id
    row.order_number = info.order_number or row.order_number
    row.created_at = info.created_at or row.created_at
    row.voie_report_id = info.voie_report_id or row.voie_report_id
    row.voa_report_id = info.voa_report_id or row.voa_report_id
    row.fetched_at = now
    session.add(row)


def learn_order(session: Session, loan: Loan, original: OrderInfo, newest: OrderInfo | None, *, now: datetime) -> None:
    """Record the loan's connections from its original order, each with Truv's data date (rules 6, 11).

    `newest` is the latest refresh the original names (`refresh_order`), when there is one. A
    connection's date is the newest of: Truv's date for it, what an earlier pass recorded, and
    the imported `data_as_of` (which never moves a loan backwards).
    """
    lc = loan_connection_table.c
    previous = {
        (row.kind, row.token_hash): row.data_as_of
        for row in session.execute(select(lc.kind, lc.token_hash, lc.data_as_of).where(lc.loan_id == loan.loan_id))
    }
    truv_dates = connection_dates(original, newest)
    session.execute(delete(loan_connection_table).where(lc.loan_id == loan.loan_id))
    for sub in original.suborders:
        if not sub.token_hash:
            continue  # a suborder with no connection (e.g. documents) cannot be refreshed
        key = (sub.kind, sub.token_hash)
        # A suborder that never completed (expired, canceled, skipped, no_data, still pending) has no
        # data to date or refresh: it is kept for the record with no date (truv-api.md section 10).
        session.add(
            LoanConnection(
                loan_id=loan.loan_id,
                suborder_id=sub.id,
                order_id=original.id,
                kind=sub.kind,
                suborder_number=sub.suborder_number,
                token_hash=sub.token_hash,
                link_id=sub.link_id,
                status=sub.status,
                data_as_of=connection_date(sub, (truv_dates.get(key), previous.get(key)), loan.data_as_of),
            )
        )
        ensure_connection(session, sub.token_hash, now=now, link_id=sub.link_id, user_id=original.user_id)
    session.flush()
    completed_newest = newest is not None and any(newest.data_date(x) is not None for x in newest.suborders)
    loan.original_order_id = original.id if original.id != loan.order_id else None
    loan.base_order_id = newest.id if newest is not None and completed_newest else original.id
    loan.gse_window_start = original.first_completion()
    loan.details_fetched_at = now
    loan.updated_at = now
    session.add(loan)
    refresh_data_date(session, loan)


def set_hold(loan: Loan, *, hold: str, reason: str, now: datetime) -> bool:
    """Set a loan aside until someone acts (rule 13); True when this is news."""
    if loan.hold == hold and loan.hold_reason == reason:
        return False
    loan.hold, loan.hold_reason, loan.hold_since = hold, reason, now
    loan.updated_at = now
    return True


SCOPE_COLUMNS = {
    "employer": "data_as_of_employers",
    "account": "data_as_of_accounts",
    "insurance": "data_as_of_insurance",
}


def refresh_data_date(session: Session, loan: Loan) -> None:
    """Each product's data is as old as its oldest completed connection's; the loan's, as its oldest overall.

    A connection that never completed has no data and no date: it does not make its product's date
    unknown. A product none of whose connections completed has no date (the choice says `never_verified`).
    """
    lc = loan_connection_table.c
    rows = session.execute(
        select(lc.kind, func.min(lc.data_as_of)).where(lc.loan_id == loan.loan_id).group_by(lc.kind)
    ).all()
    oldest: dict[str, datetime | None] = {kind: when for kind, when in rows if kind in SCOPE_COLUMNS}
    for kind, column in SCOPE_COLUMNS.items():
        setattr(loan, column, oldest.get(kind))
    if oldest:
        loan.data_as_of = _oldest(oldest.values())
    session.add(loan)


def _oldest(dates: Collection[datetime | None]) -> datetime | None:
    """The oldest date, or None when one is unknown (a product none of whose connections completed)."""
    known = [d for d in dates if d is not None]
    return min(known) if len(known) == len(dates) else None


def mark_connection_data(session: Session, loan_id: str, token: str, at: datetime, *, kind: str | None = None) -> None:
    lc = loan_connection_table.c
    where = [lc.loan_id == loan_id, lc.token_hash == token, or_(lc.data_as_of.is_(None), lc.data_as_of < at)]
    if kind is not None:
        where.append(lc.kind == kind)
    session.execute(update(loan_connection_table).where(*where).values(data_as_of=at))


def ensure_connection(
    session: Session, token: str, *, now: datetime, link_id: str | None = None, user_id: str | None = None
) -> None:
    """Insert the connection row unless it exists; loans sharing a token may race to create it."""
    insert = partial(upsert_insert, session)
    session.execute(
        insert(connection_table)
        .values(token_hash=token, link_id=link_id, user_id=user_id, state="ok", failures=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["token_hash"])
    )


def locked_connection(session: Session, token: str, *, now: datetime) -> Connection:
    ensure_connection(session, token, now=now)
    c = connection_table.c
    row: Connection = session.execute(select(Connection).where(c.token_hash == token).with_for_update()).scalars().one()
    return row


def save_suborders(session: Session, info: OrderInfo) -> None:
    """Remember a refresh order's employers/accounts: webhooks name them by id, not by token."""
    for sub in info.suborders:
        row = session.get(OrderSuborder, (info.id, sub.id)) or OrderSuborder(
            order_id=info.id, suborder_id=sub.id, kind=sub.kind
        )
        row.token_hash = sub.token_hash
        row.link_id = sub.link_id
        row.status = sub.status
        row.updated_at = sub.updated_at
        session.add(row)
