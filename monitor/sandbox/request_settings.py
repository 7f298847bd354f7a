"""The sandbox's settings as one request reads them: `Sandbox` makes one per request from its
attributes, so a setting changed between requests (e.g. by `monitor sandbox` after loading a
scenario file) applies from the next one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.sandbox.model import Order
from monitor.sandbox.order_shapes import OrderJson


@dataclass(frozen=True, slots=True)
class RequestSettings:
    completion_delay: float  # seconds from a refresh request to its tasks' end
    finalize_at_refresh: int | None  # finalize an original order at its Nth refresh order
    refresh_limit_status: int  # the per-token refusal's status: 400, 403 or 429
    suborder_completed_at: bool  # suborders also show a `completed_at` (opt-in)

    def order_json(self, order: Order, now: datetime) -> OrderJson:
        return order.to_json(now, suborder_completed_at=self.suborder_completed_at)
