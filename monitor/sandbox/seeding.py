"""Seeding one completed original order (`Sandbox.add_order`): its request, checked, and its dates.

Data dates: `completed_at` (when its connections' data was collected; an employer's own
`completed_at` wins) defaults to `created_at`, and `created_at` defaults to `completed_at`, else
now. Neither may be after now, nor a completion before creation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.sandbox.employer_spec import EmployerSpec
from monitor.sandbox.model import PRODUCTS, Kind, Order, iso, parse_time
from monitor.sandbox.seeded_connections import owner, seed_suborder
from monitor.sandbox.world import World


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """`Sandbox.add_order`'s arguments; `employers=None` means one employer with scenario ok."""

    order_id: str | None = None
    user_id: str | None = None
    order_number: str | None = None
    products: Sequence[str] = ("income",)
    employers: Sequence[EmployerSpec | Mapping[str, Any]] | None = None
    financial_accounts: Sequence[EmployerSpec | Mapping[str, Any]] = ()
    created_at: datetime | str | None = None
    completed_at: datetime | str | None = None
    first_name: str = "John"
    last_name: str = "Doe"
    forbidden: bool = False
    finalized: bool | datetime | str = False
    expired: bool | datetime | str = False
    finalize_at_refresh: int | None = None


@dataclass(frozen=True, slots=True)
class _Connection:
    """One connection to seed: its spec, its kind, and its path in the request (for errors)."""

    spec: EmployerSpec
    kind: Kind
    label: str


def seed_order(world: World, request: OrderRequest, now: datetime) -> Order:
    """The order, its links and suborders, recorded in `world`; ValueError names a bad argument."""
    connections = _connections(request)
    if request.order_id is not None and request.order_id in world.orders:
        raise ValueError(f"order_id: {request.order_id!r} already exists")
    moment, dates = _dates(request, connections, now)
    user_id = owner(world, request.user_id, [c.spec for c in connections])
    order = _new_order(world, request, user_id, moment, now)
    subs = [seed_suborder(world, c.spec, c.kind, order, d, now) for c, d in zip(connections, dates, strict=True)]
    order.employers = [s for s in subs if s.kind == "employer"]
    order.financial_accounts = [s for s in subs if s.kind == "financial_account"]
    world.orders[order.id] = order
    world.users.add(user_id)
    return order


def _dates(request: OrderRequest, connections: list[_Connection], now: datetime) -> tuple[datetime, list[datetime]]:
    """The order's `created_at` and each connection's data date, checked against now and each other."""
    done = parse_time(request.completed_at) if request.completed_at is not None else None
    moment = parse_time(request.created_at) if request.created_at is not None else done or now
    done = done or moment
    dates = [parse_time(c.spec.completed_at) if c.spec.completed_at is not None else done for c in connections]
    labelled = [(f"{c.label}.completed_at", d) for c, d in zip(connections, dates, strict=True)]
    _check_dates([("completed_at", done), *labelled], moment, now)
    return moment, dates


def _connections(request: OrderRequest) -> list[_Connection]:
    """The request's employers then financial accounts, checked (as before any lock is taken)."""
    chosen = [EmployerSpec()] if request.employers is None else request.employers
    employers = [_Connection(_spec(e, f"employers[{i}]"), "employer", f"employers[{i}]") for i, e in enumerate(chosen)]
    accounts = [
        _Connection(_spec(a, f"financial_accounts[{i}]"), "financial_account", f"financial_accounts[{i}]")
        for i, a in enumerate(request.financial_accounts)
    ]
    if not employers and not accounts:
        raise ValueError("employers, financial_accounts: an order needs at least one of them")
    for account in accounts:
        if account.spec.changes:
            raise ValueError(f"{account.label}.changes: scripted changes apply to employers only")
    check_products(request.products)
    check_finalize_at_refresh(request.finalize_at_refresh)
    if not isinstance(request.forbidden, bool):
        raise ValueError(f"forbidden: expected true or false, got {request.forbidden!r}")
    return [*employers, *accounts]


def _check_dates(checks: list[tuple[str, datetime]], created: datetime, now: datetime) -> None:
    for name, when in checks:
        if when > now:
            raise ValueError(f"{name}: {iso(when)} is after now ({iso(now)})")
        if when < created:
            raise ValueError(f"{name}: {iso(when)} is before the order's created_at ({iso(created)})")


def _new_order(world: World, request: OrderRequest, user_id: str, moment: datetime, now: datetime) -> Order:
    order = Order(
        id=request.order_id or world.new_id(),
        products=tuple(request.products),
        order_number=request.order_number,
        user_id=user_id,
        first_name=request.first_name,
        last_name=request.last_name,
        created_at=moment,
        root_id="",
        forbidden=request.forbidden,
        finalized_at=_when(request.finalized, "finalized", now),
        expired_at=_when(request.expired, "expired", now),
        finalize_at_refresh=request.finalize_at_refresh,
    )
    order.root_id = order.id
    world.draw_report_ids(order)
    return order


def _spec(value: EmployerSpec | Mapping[str, Any], where: str) -> EmployerSpec:
    return value if isinstance(value, EmployerSpec) else EmployerSpec.from_mapping(value, where)


def check_finalize_at_refresh(value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"finalize_at_refresh: expected a whole number >= 1, got {value!r}")


def check_products(products: Sequence[str]) -> None:
    if isinstance(products, str) or not products or any(p not in PRODUCTS for p in products):
        raise ValueError(f"products: expected a non-empty list from {', '.join(PRODUCTS)}, got {products!r}")


def _when(value: bool | datetime | str, name: str, now: datetime) -> datetime | None:
    """`finalized` / `expired` seeding: False -> never, True -> now, else that timestamp."""
    if value is False or value is None:
        return None
    if value is True:
        return now
    if isinstance(value, datetime | str):
        return parse_time(value)
    raise ValueError(f"{name}: expected true, false or an ISO-8601 timestamp, got {value!r}")
