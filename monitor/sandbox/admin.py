"""`/_sandbox/` endpoints for tests and demos: seed orders, read the journal, move time.

POST /_sandbox/orders/ (an `add_order` mapping) -> 201 order; GET journal/, refreshes/,
webhook-log/, refusals/ (counts by reason), data-dates/ (each original order's oldest
`completed_at`), scripted-changes/ (`Sandbox.scripted_changes()`); POST clock/advance/ {"seconds": N}; POST links/{id}/reconnect/ and
links/{id}/delete/ -> the link; POST orders/{id}/finalize/, orders/{id}/expire/ and
orders/{id}/forbid/ ({"forbidden": true|false}, default true) -> the order. Unknown ids
get 404, bad values 400.

They need no auth and are neither rate limited nor journaled; never expose them beyond
loopback.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from monitor.sandbox import wire
from monitor.sandbox.model import iso
from monitor.sandbox.scenario import add_order_from_mapping

if TYPE_CHECKING:
    from monitor.sandbox.state import Sandbox

_RECONNECT = re.compile(r"/_sandbox/links/([^/]+)/reconnect/")
_LINK_DELETE = re.compile(r"/_sandbox/links/([^/]+)/delete/")
_ORDER_ACTION = re.compile(r"/_sandbox/orders/([^/]+)/(finalize|expire|forbid)/")


def handle_admin(sandbox: Sandbox, method: str, path: str, body: bytes) -> wire.Response:
    try:
        payload: Any = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return wire.error(415, "unsupported_media_type", "The request body is not valid JSON.")
    try:
        return _dispatch(sandbox, method, path, payload)
    except (ValueError, TypeError) as exc:
        return wire.error(400, "incorrect_parameters", str(exc))
    except KeyError:
        return wire.not_found()


def _dispatch(sandbox: Sandbox, method: str, path: str, payload: Any) -> wire.Response:
    if (method, path) == ("POST", "/_sandbox/orders/"):
        if not isinstance(payload, dict):
            raise ValueError("order: expected a JSON object")
        return wire.json_response(201, add_order_from_mapping(sandbox, payload))
    if (method, path) == ("GET", "/_sandbox/journal/"):
        return wire.json_response(200, sandbox.journal())
    if (method, path) == ("GET", "/_sandbox/refreshes/"):
        return wire.json_response(200, sandbox.refreshes())
    if (method, path) == ("GET", "/_sandbox/webhook-log/"):
        return wire.json_response(200, sandbox.webhook_log())
    if (method, path) == ("POST", "/_sandbox/clock/advance/"):
        return _advance(sandbox, payload)
    if (method, path) == ("GET", "/_sandbox/refusals/"):
        return wire.json_response(200, sandbox.refusal_counts())
    if (method, path) == ("GET", "/_sandbox/data-dates/"):
        return wire.json_response(200, sandbox.oldest_completed_at())
    if (method, path) == ("GET", "/_sandbox/scripted-changes/"):
        return wire.json_response(200, sandbox.scripted_changes())
    reconnect = _RECONNECT.fullmatch(path)
    if reconnect and method == "POST":
        sandbox.reconnect_link(reconnect.group(1))
        return wire.json_response(200, sandbox.link(reconnect.group(1)))
    delete = _LINK_DELETE.fullmatch(path)
    if delete and method == "POST":
        return wire.json_response(200, sandbox.delete_link(delete.group(1)))
    action = _ORDER_ACTION.fullmatch(path)
    if action and method == "POST":
        return wire.json_response(200, _order_action(sandbox, action.group(1), action.group(2), payload))
    return wire.not_found()


def _order_action(sandbox: Sandbox, order_id: str, action: str, payload: Any) -> dict[str, Any]:
    if action == "finalize":
        return sandbox.finalize_order(order_id)
    if action == "expire":
        return sandbox.expire_order(order_id)
    forbidden = payload.get("forbidden", True) if isinstance(payload, dict) else None
    if not isinstance(forbidden, bool):
        raise ValueError(f"forbidden: expected true or false, got {forbidden!r}")
    return sandbox.forbid_order(order_id, forbidden)


def _advance(sandbox: Sandbox, payload: Any) -> wire.Response:
    seconds = payload.get("seconds") if isinstance(payload, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"seconds: expected a number, got {seconds!r}")
    try:
        now = sandbox.advance_clock(float(seconds))
    except TypeError as exc:
        return wire.error(409, "clock_not_fixed", str(exc))
    return wire.json_response(200, {"now": iso(now), "monotonic": sandbox.clock.monotonic()})
