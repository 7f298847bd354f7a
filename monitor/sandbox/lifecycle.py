"""The end of an order's or a connection's life (truv-api.md section 10), and a connection's return:
what `Sandbox.finalize_order`, `expire_order`, `delete_link` and `reconnect_link` change, each
idempotent, each with the webhook Truv sends (expiry sends none)."""

from __future__ import annotations

from datetime import datetime

from monitor.sandbox.model import Link, Order, Task
from monitor.sandbox.world import World


def finalize(world: World, order_id: str, now: datetime) -> Order:
    """`order-finalized` now unless already finalized (which keeps its moment); running refreshes finish."""
    order = world.orders[order_id]
    if not order.is_finalized(now):
        world.finalize(order, now)
    return order


def expire(world: World, order_id: str, now: datetime) -> Order:
    """The invitation expires now, unless it already had (it never moves later than its 72 h)."""
    order = world.orders[order_id]
    if not order.is_expired(now):
        order.expired_at = now
    return order


def delete_link(world: World, link_id: str, now: datetime) -> Link:
    """`link-deleted` now and `deleted_at` on the link, unless already deleted."""
    link = world.links[link_id]
    if not link.is_deleted(now):
        link.deleted_at = now
        world.outbox.link_deleted(link, now)
    return link


def reconnect_link(world: World, link_id: str, now: datetime) -> None:
    """Bridge update mode succeeded: a `done` task now, and later refreshes succeed."""
    link = world.links[link_id]
    if link.is_deleted(now):
        raise ValueError(f"link {link_id} is deleted: a new connection makes a new link")
    link.scenario = "ok"
    link.tasks.append(Task(finishes_at=now, status="done"))
    world.outbox.link_connected(link, now)
