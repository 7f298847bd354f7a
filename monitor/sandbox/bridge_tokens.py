"""`POST /v1/users/{id}/tokens/`: a Bridge token, for a new connection or (with `access_token`) for
update mode on one of the user's links. `product_type` must be a Bridge product."""

from __future__ import annotations

from datetime import datetime

from monitor.sandbox import wire
from monitor.sandbox.model import PRODUCTS
from monitor.sandbox.world import World

BRIDGE_PRODUCTS = (*PRODUCTS, "deposit_switch", "pll", "admin")


def bridge_token(world: World, user_id: str, body: object, now: datetime) -> wire.Response:
    if user_id not in world.users:
        return wire.not_found()
    if not isinstance(body, dict):
        return wire.bad_request(
            "Invalid parameters.",
            [{"field": "non_field_errors", "message": "Expected a JSON object."}],
        )
    product_type = body.get("product_type")
    if product_type not in BRIDGE_PRODUCTS:
        message = "This field is required." if product_type is None else f"Unknown product_type {product_type!r}."
        return wire.bad_request("Invalid parameters.", [{"field": "product_type", "message": message}])
    access_token = body.get("access_token")
    if access_token is not None and not _users_link(world, user_id, access_token, now):
        invalid = [{"field": "access_token", "message": "No link of this user has that access_token."}]
        return wire.bad_request("Invalid parameters.", invalid)
    return wire.json_response(
        200,
        {
            "bridge_token": world.new_id(),
            "tracking_info": body.get("tracking_info"),
            "client_name": body.get("client_name", "Sandbox Client"),
            "product_type": product_type,
            "allowed_products": body.get("allowed_products"),
            "company_mapping_id": body.get("company_mapping_id"),
            "access_token": access_token,
        },
    )


def _users_link(world: World, user_id: str, access_token: object, now: datetime) -> bool:
    """Whether `access_token` is one of the user's links, not deleted."""
    link = world.links_by_token.get(access_token) if isinstance(access_token, str) else None
    return link is not None and link.user_id == user_id and not link.is_deleted(now)
