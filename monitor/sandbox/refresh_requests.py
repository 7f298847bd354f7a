"""`POST /v1/orders/{id}/`: a refresh request's checks, in order, after the checks every request
passes: unknown order 404; forbidden 403; body 415; refresh of a refresh order 400; finalized 400;
body validation 400 (refresh.py); a deleted link among the touched connections 400; the per-token
budget; then the new order (refresh_orders.py). Each refusal but 404 and the body's is journaled
with `refused` and counted in the world's `refusals`.
"""

from __future__ import annotations

from datetime import datetime

from monitor.sandbox import wire
from monitor.sandbox.call import Call
from monitor.sandbox.journal import token_hash
from monitor.sandbox.model import Order
from monitor.sandbox.ratelimit import RefreshBudget
from monitor.sandbox.refresh import RefreshPlan, plan_refresh
from monitor.sandbox.refresh_orders import create_refresh_order
from monitor.sandbox.request_checks import parse_body
from monitor.sandbox.request_settings import RequestSettings
from monitor.sandbox.world import World

REFRESH_LIMIT_MESSAGE = "Refresh limit for the access_token exceeded"
# The per-token refusal's HTTP status (Truv does not document it) and the code that goes with it.
REFRESH_LIMIT_CODES = {400: "incorrect_parameters", 403: "not_authenticated", 429: "throttled"}
FORBIDDEN_MESSAGE = "Credentials are valid but do not have permission to access this resource"

# A refusal: the reason journaled and counted, and the answer.
Refusal = tuple[str, wire.Response]


def refuse(world: World, entry: dict[str, object], refusal: Refusal) -> wire.Response:
    reason, response = refusal
    entry["refused"] = reason
    world.refusals[reason] += 1
    return response


def forbidden() -> Refusal:
    return "forbidden", wire.error(403, "not_authenticated", FORBIDDEN_MESSAGE)


def refresh(call: Call) -> wire.Response:
    """The new refresh order, or the first refusal; the journal entry says which (and what it touched)."""
    world, entry, now, order_id = call.world, call.entry, call.now, call.resource_id
    entry.update(parent_order_id=order_id, root_order_id=None, created_order_id=None, product=None, token_hashes=[])
    root = world.orders.get(order_id)
    if root is None:
        return wire.not_found()
    entry["root_order_id"] = root.root_id
    if world.is_forbidden(root):
        return refuse(world, entry, forbidden())
    payload = parse_body(call.headers, call.body)
    if isinstance(payload, wire.Response):
        return payload
    refusal = _refusal_of_order(root, now)
    if refusal is not None:
        return refuse(world, entry, refusal)
    plan = plan_refresh(root, payload, _refresh_suborder_ids(world, root))
    if isinstance(plan, wire.Response):
        return plan
    tokens = plan.tokens()
    entry.update(product=plan.product, token_hashes=[token_hash(t) for t in tokens])
    refusal = _refusal_of_plan(plan, call.budget, call.settings, now)
    if refusal is not None:
        return refuse(world, entry, refusal)
    child = create_refresh_order(world, root, plan, now, call.settings)
    call.budget.record(tokens, now)
    entry["created_order_id"] = child.id
    return wire.json_response(200, call.settings.order_json(child, now))


def _refusal_of_order(root: Order, now: datetime) -> Refusal | None:
    if root.initial_order is not None:
        message = f"Refresh the original order: {root.id} is a refresh order (initial_order {root.initial_order})"
        return "refresh_of_refresh", wire.error(400, "incorrect_parameters", message)
    if root.is_finalized(now):
        message = f"The order is finalized: no further data collection or refresh for order {root.id}"
        return "order_finalized", wire.error(400, "incorrect_parameters", message)
    return None


def _refusal_of_plan(
    plan: RefreshPlan, budget: RefreshBudget, settings: RequestSettings, now: datetime
) -> Refusal | None:
    deleted = list(dict.fromkeys(s.link.id for s in plan.suborders if s.link.is_deleted(now)))
    if deleted:
        message = f"The link was deleted: {', '.join(deleted)} cannot be refreshed; the borrower must connect again"
        return "link_deleted", wire.error(400, "incorrect_parameters", message)
    if budget.exhausted(plan.tokens(), now):
        status = settings.refresh_limit_status
        return "refresh_limit", wire.error(status, REFRESH_LIMIT_CODES[status], REFRESH_LIMIT_MESSAGE)
    return None


def _refresh_suborder_ids(world: World, root: Order) -> dict[str, str]:
    return {s.id: order_id for order_id in root.refresh_ids for s in world.orders[order_id].suborders()}
