"""One page of Truv's order list (`GET /v1/orders/`, "List orders") -> our types.

Truv's reference names the endpoint but we could not read its parameters or its answer's shape
(README, "Where Truv is silent"). So: the page is read as Truv's other list endpoints answer,
`{count, next, previous, results}`; the next page is whatever query `next` carries, sent to our own base
URL (never to the host `next` names: the secret travels with every request); the page size and the
updated-since filter are asked for, never relied on (`filter_honoured`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from monitor.truv.wire import OrderInfo, parse_order

PAGE_SIZE = 100  # asked for; Truv may answer with fewer or more per page
PAGE_SIZE_PARAM = "page_size"
UPDATED_SINCE_PARAM = "updated_at__gte"

Query = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class OrdersPage:
    results: tuple[OrderInfo, ...]
    next_query: Query | None  # None on the last page
    count: int | None  # every order the walk will see, when Truv says


def first_query(*, updated_since: datetime | None, page_size: int = PAGE_SIZE) -> Query:
    query: list[tuple[str, str]] = [(PAGE_SIZE_PARAM, str(page_size))]
    if updated_since is not None:
        stamp = updated_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query.append((UPDATED_SINCE_PARAM, stamp))
    return tuple(query)


def filter_honoured(page: OrdersPage, updated_since: datetime | None) -> bool:
    """False when a result is older than the filter asked for: Truv ignored it (the walk reads everything)."""
    if updated_since is None:
        return True
    return all(o.updated_at is None or o.updated_at >= updated_since for o in page.results)


def _next_query(value: Any) -> Query | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("`next` must be a URL or null")
    parts = urlsplit(value)
    if not parts.path.rstrip("/").endswith("orders"):
        raise ValueError("`next` does not point at the order list")
    return tuple(parse_qsl(parts.query, keep_blank_values=True))


def parse_orders_page(body: Any) -> OrdersPage:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ValueError("a page of orders needs a `results` list")
    count = body.get("count")
    return OrdersPage(
        results=tuple(parse_order(item) for item in body["results"]),
        next_query=_next_query(body.get("next")),
        count=count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None,
    )
