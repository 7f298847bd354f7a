"""One request to Truv's API, checked in order: unknown path or missing trailing slash 404 (URL routing
comes first, as in Django); bad Accept 406; credentials 401 / 403; the rate limit 429 (only requests
that passed auth count; a throttled one is not counted); a wrong method 405; then the injected faults;
then the endpoint (endpoints.py). The caller (`Sandbox.handle`) holds the lock and journals it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from monitor.sandbox import wire
from monitor.sandbox.call import Call
from monitor.sandbox.endpoints import ENDPOINTS
from monitor.sandbox.faults import Faults, RequestKind
from monitor.sandbox.order_list import OrderList
from monitor.sandbox.ratelimit import RefreshBudget, RequestLimiter, wait_message
from monitor.sandbox.request_checks import accepts_json, authenticate, route
from monitor.sandbox.request_settings import RequestSettings
from monitor.sandbox.world import World

# The endpoints with faults of their own (a 404 fault is for order GETs only); every other is "other".
_FAULT_KINDS: dict[str, RequestKind] = {"order_get": "order_get", "refresh": "refresh"}


@dataclass(frozen=True, slots=True)
class ApiRequest:
    method: str  # upper case
    path: str
    headers: dict[str, str]  # names lowercased
    body: bytes
    query: str
    now: datetime
    # Read only once the request passed auth (a test clock may move when read).
    monotonic: Callable[[], float]


@dataclass(slots=True)
class Api:
    world: World
    limiter: RequestLimiter
    budget: RefreshBudget
    secrets: tuple[str, ...] | None  # None: any secret starting with "sandbox"
    client_ids: tuple[str, ...] | None  # None: any client id
    order_list: OrderList = field(default_factory=OrderList)

    def answer(
        self, request: ApiRequest, faults: Faults, settings: RequestSettings, entry: dict[str, object]
    ) -> wire.Response:
        """The answer; notes a fault (and the endpoint's refusals) in the journal `entry`."""
        checked = self._endpoint(request)
        if isinstance(checked, wire.Response):
            return checked
        endpoint, resource_id = checked
        kind = _FAULT_KINDS.get(endpoint, "other")
        refused = faults.before(kind)
        if refused is not None:
            entry["fault"] = refused[1]
            return refused[0]
        call = Call(
            self.world,
            self.budget,
            self.order_list,
            settings,
            resource_id,
            request.headers,
            request.body,
            request.query,
            request.now,
            entry,
        )
        response, fault = faults.after(kind, ENDPOINTS[endpoint](call))
        if fault is not None:
            entry["fault"] = fault
        return response

    def _endpoint(self, request: ApiRequest) -> tuple[str, str] | wire.Response:
        """The endpoint and resource id, or the answer of the first check that fails."""
        routed = route(request.path)
        if routed is None:
            return wire.not_found()
        methods, resource_id = routed
        if not accepts_json(request.headers.get("accept")):
            return wire.error(406, "not_acceptable", "Could not satisfy the request Accept header.")
        secret = authenticate(request.headers, self.secrets, self.client_ids)
        if isinstance(secret, wire.Response):
            return secret
        wait = self.limiter.try_acquire(secret, request.monotonic())
        if wait is not None:
            return wire.error(429, "throttled", wait_message(wait))
        if request.method not in methods:
            return wire.method_not_allowed(request.method)
        return methods[request.method], resource_id
