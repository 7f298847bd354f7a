"""Truv's JSON -> our types. Access tokens are hashed here and go no further."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.truv.secrets import token_hash


@dataclass(frozen=True, slots=True)
class Suborder:
    kind: str  # employer | account
    id: str
    suborder_number: str | None
    status: str | None
    token_hash: str | None
    link_id: str | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderInfo:
    id: str
    products: tuple[str, ...]
    user_id: str | None
    order_number: str | None
    initial_order: str | None
    refresh_order: str | None
    created_at: datetime | None
    updated_at: datetime | None
    suborders: tuple[Suborder, ...]


@dataclass(frozen=True, slots=True)
class LinkInfo:
    id: str
    status: str | None
    updated_at: datetime | None


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _suborder(kind: str, item: dict[str, Any]) -> Suborder:
    token = item.get("access_token")
    return Suborder(
        kind=kind,
        id=str(item.get("id")),
        suborder_number=item.get("suborder_number"),
        status=item.get("status"),
        token_hash=token_hash(token) if isinstance(token, str) and token else None,
        link_id=item.get("link_id"),
        updated_at=parse_time(item.get("updated_at")),
    )


def parse_order(body: Any) -> OrderInfo:
    if not isinstance(body, dict) or not body.get("id"):
        raise ValueError("an order object needs an id")
    subs = [_suborder("employer", e) for e in body.get("employers") or [] if isinstance(e, dict)]
    subs += [_suborder("account", a) for a in body.get("financial_accounts") or [] if isinstance(a, dict)]
    return OrderInfo(
        id=str(body["id"]),
        products=tuple(body.get("products") or ()),
        user_id=body.get("user_id"),
        order_number=body.get("order_number"),
        initial_order=body.get("initial_order"),
        refresh_order=body.get("refresh_order"),
        created_at=parse_time(body.get("created_at")),
        updated_at=parse_time(body.get("updated_at")),
        suborders=tuple(subs),
    )


def parse_link(body: Any) -> LinkInfo:
    if not isinstance(body, dict) or not body.get("id"):
        raise ValueError("a link object needs an id")
    return LinkInfo(id=str(body["id"]), status=body.get("status"), updated_at=parse_time(body.get("updated_at")))
