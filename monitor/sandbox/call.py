"""One API request as an endpoint (endpoints.py) reads it, once it passed the common checks (api.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.sandbox.order_list import OrderList
from monitor.sandbox.ratelimit import RefreshBudget
from monitor.sandbox.request_settings import RequestSettings
from monitor.sandbox.world import World


@dataclass(frozen=True, slots=True)
class Call:
    """One API request as an endpoint reads it, with what the sandbox lends it."""

    world: World
    budget: RefreshBudget
    order_list: OrderList
    settings: RequestSettings
    resource_id: str
    headers: dict[str, str]  # names lowercased
    body: bytes
    query: str
    now: datetime
    entry: dict[str, object]  # the journal entry: an endpoint notes refusals and created orders in it
