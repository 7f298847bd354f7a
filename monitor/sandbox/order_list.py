"""`GET /v1/orders/` ("List orders") in the sandbox.

Truv's reference names the endpoint; its parameters and answer could not be read here, so the sandbox
answers as Truv's other list endpoints do (truv-api.md section 7) and as DRF's page-number paging does:
`{count, next, previous, results}`, `page` (1-based; a page past the end is 404 "Invalid page."),
`page_size` (default 25, at most 100: a larger one is capped, an unreadable one ignored), oldest order
first (created_at, then id: orders made during a walk join its end, so a walk never skips one), and
`updated_at__gte` / `created_at__gte` filters (an unreadable time is a 400). Results are the very objects
`GET /v1/orders/{id}/` answers. Orders another environment owns (`forbidden`) are not listed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from monitor.sandbox import wire
from monitor.sandbox.model import Order, parse_time
from monitor.sandbox.order_shapes import OrderJson

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
FILTERS = ("updated_at__gte", "created_at__gte")


def _page_size(value: str | None) -> int:
    try:
        size = int(value) if value is not None else DEFAULT_PAGE_SIZE
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return DEFAULT_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)


def _bounds(params: Mapping[str, str]) -> dict[str, datetime] | wire.Response:
    bounds: dict[str, datetime] = {}
    bad = []
    for name in FILTERS:
        if name in params:
            try:
                bounds[name] = parse_time(params[name])
            except (TypeError, ValueError):
                bad.append({"field": name, "message": "Enter a valid date/time."})
    if bad:
        return wire.bad_request("Invalid filter.", bad)
    return bounds


class OrderList:
    """The listing over the sandbox's orders; the filtered order of ids is kept while nothing changes,
    so a walk of a large book does not re-sort it for every page."""

    def __init__(self) -> None:
        self._cached: tuple[object, list[str]] | None = None

    def answer(
        self,
        orders: Mapping[str, Order],
        query: str,
        headers: Mapping[str, str],
        now: datetime,
        render: Callable[[Order], OrderJson],
    ) -> wire.Response:
        params = dict(parse_qsl(query, keep_blank_values=True))
        bounds = _bounds(params)
        if isinstance(bounds, wire.Response):
            return bounds
        size = _page_size(params.get("page_size"))
        ids = self._ids(orders, bounds, now)
        pages = max(1, math.ceil(len(ids) / size))
        try:
            page = int(params.get("page", "1"))
        except ValueError:
            page = 0
        if not 1 <= page <= pages:
            return wire.json_response(404, {"detail": "Invalid page."})
        chosen = ids[(page - 1) * size : page * size]
        return wire.json_response(
            200,
            {
                "count": len(ids),
                "next": self._link(params, page + 1, headers) if page < pages else None,
                "previous": self._link(params, page - 1, headers) if page > 1 else None,
                "results": [render(orders[i]) for i in chosen],
            },
        )

    def _ids(self, orders: Mapping[str, Order], bounds: dict[str, datetime], now: datetime) -> list[str]:
        # Orders' states move with time; a minute-old listing is what a walk of one page a second sees.
        key = (tuple(sorted(bounds.items())), len(orders), now.replace(second=0, microsecond=0))
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        listed = [o for o in orders.values() if _listed(o, orders, bounds, now)]
        ids = [o.id for o in sorted(listed, key=lambda o: (o.created_at, o.id))]
        self._cached = (key, ids)
        return ids

    @staticmethod
    def _link(params: Mapping[str, str], page: int, headers: Mapping[str, str]) -> str:
        host = headers.get("host", "prod.truv.com")
        scheme = "http" if host.startswith(("127.0.0.1", "localhost")) else "https"
        return f"{scheme}://{host}/v1/orders/?{urlencode({**params, 'page': str(page)})}"


def _listed(order: Order, orders: Mapping[str, Order], bounds: Mapping[str, datetime], now: datetime) -> bool:
    """Not forbidden (nor its original), and inside the `created_at__gte` / `updated_at__gte` bounds."""
    if order.forbidden or orders[order.root_id].forbidden:
        return False
    since_created = bounds.get("created_at__gte")
    since_update = bounds.get("updated_at__gte")
    return (since_created is None or order.created_at >= since_created) and (
        since_update is None or order.updated_at(now) >= since_update
    )
