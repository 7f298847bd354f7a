"""The truth about how old each loan's data is, by Truv's documented shape: what a test compares a
client's reading with (`Sandbox.oldest_completed_at`, `Sandbox.data_as_of`)."""

from __future__ import annotations

from datetime import datetime

from monitor.sandbox.model import Order, Suborder, iso
from monitor.sandbox.world import World


def oldest_completed_at(world: World, now: datetime) -> dict[str, str | None]:
    """Per original order: its order-level `completed_at` as its JSON shows it now."""
    result: dict[str, str | None] = {}
    for order in world.orders.values():
        if order.initial_order is None:
            done = order.completed_at(now)
            result[order.id] = iso(done) if done else None
    return result


def data_as_of(world: World, order_id: str, now: datetime) -> str | None:
    """For each connection of the original order, the order-level `completed_at` of the newest order
    that carried its data (the original, or a refresh order whose suborder of the same
    suborder_number brought data and which has a `completed_at`); then the oldest of those."""
    root = world.orders[world.orders[order_id].root_id]
    carriers = [root, *(world.orders[i] for i in root.refresh_ids)]
    newest = [d for d in (_newest_data(suborder, carriers, now) for suborder in root.suborders()) if d is not None]
    return iso(min(newest)) if newest else None


def _newest_data(suborder: Suborder, carriers: list[Order], now: datetime) -> datetime | None:
    dates = [
        done
        for order in carriers
        if _brought_data(order, suborder, now) and (done := order.completed_at(now)) is not None
    ]
    return max(dates, default=None)


def _brought_data(order: Order, suborder: Suborder, now: datetime) -> bool:
    """Whether `order` has a suborder of the same connection whose data came in."""
    return any(
        (r.kind, r.suborder_number) == (suborder.kind, suborder.suborder_number)
        and r.data_completed_at(now) is not None
        for r in order.suborders()
    )
