"""One loan's refresh, as the database sees it: what the choice reads, and what a pass records
about the loan besides the ledger's budget step (details learned, set aside, put off, accepted)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlmodel import Session

from monitor.core.budget import Limits, counts_from
from monitor.core.refresh_choice import LoanToRefresh, ScopedConnection
from monitor.store import audit_details, ledger, orders
from monitor.store.outbox import enqueue_needs_new_order
from monitor.store.tables import (
    Loan,
    connection_table,
    loan_connection_table,
    loan_table,
    reservation_table,
    truv_order_table,
)
from monitor.truv.wire import OrderInfo

_ATTENTION_WIDTH = 64


def to_refresh(session: Session, loan_id: str, *, scope: str) -> LoanToRefresh | None:
    """The loan, its original order's products and its connections in `scope`; None when the loan or
    its original order is not known (the order was never read)."""
    lt = loan_table.c
    loan = session.execute(
        select(
            lt.order_id,
            lt.original_order_id,
            lt.gse,
            lt.gse_window_start,
            lt.closing_date,
            lt.hold,
            lt.hold_reason,
        ).where(lt.loan_id == loan_id)
    ).first()
    if loan is None:
        return None
    ot = truv_order_table.c
    order = session.execute(
        select(ot.id, ot.products).where(ot.id == (loan.original_order_id or loan.order_id))
    ).first()
    if order is None:
        return None
    lc, c = loan_connection_table.c, connection_table.c
    conns = session.execute(
        select(lc.suborder_id, lc.token_hash, lc.kind, lc.data_as_of, c.state, c.retry_after)
        .select_from(loan_connection_table.outerjoin(connection_table, c.token_hash == lc.token_hash))
        .where(lc.loan_id == loan_id, lc.kind == scope)
        .order_by(lc.suborder_id)
    ).all()
    return LoanToRefresh(
        loan_id=loan_id,
        original_order_id=order.id,
        order_products=tuple(order.products.split(",")),
        gse=loan.gse,
        gse_window_start=loan.gse_window_start,
        closing_date=loan.closing_date,
        hold=loan.hold,
        hold_reason=loan.hold_reason,
        connections=tuple(ScopedConnection(*row) for row in conns),
    )


@dataclass(frozen=True, slots=True)
class LoanBasics:
    """What the database knows of a loan whose order was not read yet: enough, with Truv's orders, to
    decide as the pass would (`jobs.order_reads.as_learned`)."""

    loan_id: str
    gse: bool
    closing_date: date | None
    hold: str | None
    hold_reason: str | None
    imported_data_as_of: datetime | None
    connection_states: dict[str, tuple[str | None, datetime | None]]  # token -> (state, retry_after)


def basics(session: Session, loan_id: str, tokens: Iterable[str]) -> LoanBasics | None:
    lt, c = loan_table.c, connection_table.c
    row = session.execute(
        select(lt.gse, lt.closing_date, lt.hold, lt.hold_reason, lt.data_as_of).where(lt.loan_id == loan_id)
    ).first()
    if row is None:
        return None
    wanted = list(tokens)
    states = (
        {
            r.token_hash: (r.state, r.retry_after)
            for r in session.execute(select(c.token_hash, c.state, c.retry_after).where(c.token_hash.in_(wanted)))
        }
        if wanted
        else {}
    )
    return LoanBasics(loan_id, row.gse, row.closing_date, row.hold, row.hold_reason, row.data_as_of, states)


def record_details(
    session: Session, loan_id: str, original: OrderInfo, newest: OrderInfo | None, *, run_id: str, now: datetime
) -> bool:
    """Keep the orders read from Truv and learn the loan's connections and data dates from them
    (rules 6 and 11); False when the loan is gone."""
    loan = session.get(Loan, loan_id)
    if loan is None:
        return False
    for order in (original, newest):
        if order is not None:
            orders.save_order(session, loan_id, order, now=now)
    orders.learn_order(session, loan, original, newest, now=now)
    ledger.add_event(
        session,
        at=now,
        kind="details_fetched",
        run_id=run_id,
        loan_id=loan_id,
        detail=audit_details.DetailsFetched(
            original_order_id=original.id,
            newest_order_id=newest.id if newest else None,
            gse_window_start=loan.gse_window_start,
        ),
    )
    return True


def set_aside(session: Session, loan_id: str, *, hold: str, reason: str, now: datetime) -> None:
    """Hold the loan until someone acts (rule 13); the end of its order is handed off to the lender."""
    row = session.get(Loan, loan_id)
    if row is not None and orders.set_hold(row, hold=hold, reason=reason, now=now):
        session.add(row)
        if hold == "needs_new_order":
            enqueue_needs_new_order(session, loan_ids=[loan_id], reason=reason, since=now, now=now)


def lift_holds(session: Session, loan_ids: Iterable[str], *, reason: str) -> None:
    """Undo holds set for `reason` (403s that turned out to be the key's, not the loans')."""
    ids = list(loan_ids)
    if not ids:
        return
    lt = loan_table.c
    session.execute(
        update(loan_table)
        .where(lt.loan_id.in_(ids), lt.hold_reason == reason)
        .values(hold=None, hold_reason=None, hold_since=None)
    )


def put_off(session: Session, loan_id: str, *, attention: str, until: datetime) -> None:
    """The loan is not tried again before `until`; `attention` says why, for the operator."""
    lt = loan_table.c
    session.execute(
        update(loan_table)
        .where(lt.loan_id == loan_id)
        .values(attention=attention[:_ATTENTION_WIDTH], next_attempt_at=until)
    )


def recheck_later(session: Session, loan_id: str, *, until: datetime) -> None:
    """None of the loan's connections ever completed: read its order anew, not before `until`."""
    lt = loan_table.c
    session.execute(
        update(loan_table).where(lt.loan_id == loan_id).values(details_fetched_at=None, next_attempt_at=until)
    )


def record_accepted(
    session: Session, loan_id: str, reservation_id: str, info: OrderInfo, *, limits: Limits, now: datetime
) -> None:
    """Truv created the refresh order: keep it, and count the reservation from Truv's own creation
    time when that is later than the send (rule 12)."""
    orders.save_order(session, loan_id, info, now=now)
    orders.save_suborders(session, info)
    ledger.set_state(session, reservation_id, state="accepted", now=now, refresh_order_id=info.id)
    if info.created_at is not None:
        rt = reservation_table.c
        sent_at = session.execute(select(rt.sent_at).where(rt.id == reservation_id)).scalar_one_or_none()
        ledger.count_from(session, reservation_id, counts_from(sent_at or now, limits, info.created_at))


def hold_by_operator(session: Session, loan_id: str, *, why: str, now: datetime) -> bool:
    """An operator sets the loan aside (hold `manual_review`, reason `operator_hold`); audited with the actor.
    False when the loan does not exist."""
    row = session.get(Loan, loan_id)
    if row is None:
        return False
    orders.set_hold(row, hold="manual_review", reason="operator_hold", now=now)
    row.attention = why[:_ATTENTION_WIDTH]
    session.add(row)
    detail = audit_details.Held(reason="operator_hold", note=why)
    ledger.add_event(session, at=now, kind="held", loan_id=loan_id, detail=detail)
    return True


def release(session: Session, loan_id: str, *, why: str, now: datetime) -> tuple[str | None, str | None] | None:
    """An operator releases a loan set aside (any hold) and any wait; the next pass may take it, reading its
    order again first. Returns the (hold, reason) it had, or None when the loan does not exist."""
    row = session.get(Loan, loan_id)
    if row is None:
        return None
    before = (row.hold, row.hold_reason)
    row.hold = row.hold_reason = row.hold_since = None
    row.next_attempt_at = None
    row.attention = None
    row.details_fetched_at = None  # whatever set it aside may have changed at Truv: read the order again
    row.updated_at = now
    session.add(row)
    detail = audit_details.Released(hold=before[0], reason=before[1], note=why)
    ledger.add_event(session, at=now, kind="released", loan_id=loan_id, detail=detail)
    return before
