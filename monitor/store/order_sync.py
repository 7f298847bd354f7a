"""What the order list's sync reads and keeps: loans by order id, how many lack details, the cursor."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlmodel import Session

from monitor.store.tables import OrderSyncCursor, loan_table

CURSOR = "orders"


def loans_for_orders(session: Session, order_ids: Collection[str]) -> dict[str, list[str]]:
    """Order id -> the active loans imported with it, or whose original order it is."""
    if not order_ids:
        return {}
    lt = loan_table.c
    ids = list(order_ids)
    rows = session.execute(
        select(lt.loan_id, lt.order_id, lt.original_order_id).where(
            lt.status == "active", or_(lt.order_id.in_(ids), lt.original_order_id.in_(ids))
        )
    ).all()
    found: dict[str, list[str]] = {}
    wanted = set(ids)
    for row in rows:
        for order_id in {row.order_id, row.original_order_id} & wanted:
            found.setdefault(order_id, []).append(row.loan_id)
    return found


def order_of(session: Session, loan_id: str) -> str | None:
    """The order a single read starts from: the loan's imported order id."""
    lt = loan_table.c
    return session.execute(select(lt.order_id).where(lt.loan_id == loan_id)).scalar_one_or_none()


def lacking_details(session: Session) -> tuple[int, int]:
    """(active loans not set aside whose order was never read, active loans)."""
    lt = loan_table.c
    active = session.execute(select(func.count()).where(lt.status == "active")).scalar_one()
    lacking = session.execute(
        select(func.count()).where(lt.status == "active", lt.hold.is_(None), lt.details_fetched_at.is_(None))
    ).scalar_one()
    return int(lacking), int(active)


def cursor(session: Session) -> OrderSyncCursor | None:
    return session.get(OrderSyncCursor, CURSOR)


def save_cursor(session: Session, *, walk_started_at: datetime, orders_seen: int, now: datetime) -> None:
    row = session.get(OrderSyncCursor, CURSOR) or OrderSyncCursor(
        name=CURSOR, walk_started_at=walk_started_at, finished_at=now
    )
    row.walk_started_at, row.orders_seen, row.finished_at = walk_started_at, orders_seen, now
    session.add(row)
