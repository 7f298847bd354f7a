"""Reading a loan's orders from Truv before anything is decided (DESIGN.md rules 6 and 11), shared by the
pass (which records what it learned) and the plan (which decides on it in memory and records nothing)."""

from __future__ import annotations

from monitor.core.refresh_choice import LoanToRefresh, ScopedConnection
from monitor.store.loan_refresh import LoanBasics
from monitor.truv.client import TruvClient
from monitor.truv.wire import OrderInfo, connection_date, connection_dates


def read_orders(client: TruvClient, order_id: str) -> tuple[OrderInfo, OrderInfo | None]:
    """The original order (the imported id may be a refresh: its origin is read then) and its newest refresh."""
    original = client.get_order(order_id)
    if original.initial_order and original.initial_order != original.id:
        original = client.get_order(original.initial_order)
    newest = None
    if original.refresh_order and original.refresh_order != original.id:
        newest = client.get_order(original.refresh_order)
    return original, newest


def as_learned(basics: LoanBasics, original: OrderInfo, newest: OrderInfo | None, *, scope: str) -> LoanToRefresh:
    """The loan as the pass would know it once it recorded these orders (`store.orders.learn_order`), in
    memory: each completed connection of the scope dated by Truv (never before the imported date), the
    ones that never completed undated."""
    dates = connection_dates(original, newest)
    connections = []
    for sub in sorted(original.suborders, key=lambda x: x.id):
        if not sub.token_hash or sub.kind != scope:
            continue
        when = connection_date(sub, (dates.get((sub.kind, sub.token_hash)),), basics.imported_data_as_of)
        state, retry_after = basics.connection_states.get(sub.token_hash, (None, None))
        connections.append(ScopedConnection(sub.id, sub.token_hash, sub.kind, when, state, retry_after))
    return LoanToRefresh(
        loan_id=basics.loan_id,
        original_order_id=original.id,
        order_products=original.products,
        gse=basics.gse,
        gse_window_start=original.first_completion(),
        closing_date=basics.closing_date,
        hold=basics.hold,
        hold_reason=basics.hold_reason,
        connections=tuple(connections),
    )
