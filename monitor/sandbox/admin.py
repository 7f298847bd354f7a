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
from collections.abc import Callable

from monitor.sandbox import wire
from monitor.sandbox.model import iso
from monitor.sandbox.order_mappings import add_order_from_mapping
from monitor.sandbox.state import Sandbox

# An admin call: (sandbox, the JSON body) -> the answer.
Handler = Callable[[Sandbox, object], wire.Response]
# An admin call on a link or an order: (sandbox, its id, the path's action, the JSON body) -> the JSON shown.
ResourceHandler = Callable[[Sandbox, str, str, object], object]


def handle_admin(sandbox: Sandbox, method: str, path: str, body: bytes) -> wire.Response:
    try:
        payload: object = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return wire.error(415, "unsupported_media_type", "The request body is not valid JSON.")
    try:
        return _dispatch(sandbox, method, path, payload)
    except (ValueError, TypeError) as exc:
        return wire.error(400, "incorrect_parameters", str(exc))
    except KeyError:
        return wire.not_found()


def _dispatch(sandbox: Sandbox, method: str, path: str, payload: object) -> wire.Response:
    fixed = _FIXED.get((method, path))
    if fixed is not None:
        return fixed(sandbox, payload)
    if method != "POST":
        return wire.not_found()
    for pattern, handler in _ON_RESOURCE:
        match = pattern.fullmatch(path)
        if match:
            return wire.json_response(200, handler(sandbox, match.group(1), match.group(2), payload))
    return wire.not_found()


def _add_order(sandbox: Sandbox, payload: object) -> wire.Response:
    if not isinstance(payload, dict):
        raise ValueError("order: expected a JSON object")
    return wire.json_response(201, add_order_from_mapping(sandbox, payload))


def _advance(sandbox: Sandbox, payload: object) -> wire.Response:
    seconds = payload.get("seconds") if isinstance(payload, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"seconds: expected a number, got {seconds!r}")
    try:
        now = sandbox.advance_clock(float(seconds))
    except TypeError as exc:
        return wire.error(409, "clock_not_fixed", str(exc))
    return wire.json_response(200, {"now": iso(now), "monotonic": sandbox.clock.monotonic()})


def _showing(read: Callable[[Sandbox], object]) -> Handler:
    """A GET that shows what `read` returns (no body expected)."""
    return lambda sandbox, _payload: wire.json_response(200, read(sandbox))


# The paths without an id, by (method, path).
_FIXED: dict[tuple[str, str], Handler] = {
    ("POST", "/_sandbox/orders/"): _add_order,
    ("GET", "/_sandbox/journal/"): _showing(lambda sandbox: sandbox.journal()),
    ("GET", "/_sandbox/refreshes/"): _showing(lambda sandbox: sandbox.refreshes()),
    ("GET", "/_sandbox/webhook-log/"): _showing(lambda sandbox: sandbox.webhook_log()),
    ("POST", "/_sandbox/clock/advance/"): _advance,
    ("GET", "/_sandbox/refusals/"): _showing(lambda sandbox: sandbox.refusal_counts()),
    ("GET", "/_sandbox/data-dates/"): _showing(lambda sandbox: sandbox.oldest_completed_at()),
    ("GET", "/_sandbox/scripted-changes/"): _showing(lambda sandbox: sandbox.scripted_changes()),
}


def _reconnect(sandbox: Sandbox, link_id: str, _action: str, _payload: object) -> object:
    sandbox.reconnect_link(link_id)
    return sandbox.link(link_id)


def _delete_link(sandbox: Sandbox, link_id: str, _action: str, _payload: object) -> object:
    return sandbox.delete_link(link_id)


def _order_action(sandbox: Sandbox, order_id: str, action: str, payload: object) -> object:
    if action == "finalize":
        return sandbox.finalize_order(order_id)
    if action == "expire":
        return sandbox.expire_order(order_id)
    forbidden = payload.get("forbidden", True) if isinstance(payload, dict) else None
    if not isinstance(forbidden, bool):
        raise ValueError(f"forbidden: expected true or false, got {forbidden!r}")
    return sandbox.forbid_order(order_id, forbidden)


# The POST paths naming a link or an order.
_ON_RESOURCE: tuple[tuple[re.Pattern[str], ResourceHandler], ...] = (
    (re.compile(r"/_sandbox/links/([^/]+)/(reconnect)/"), _reconnect),
    (re.compile(r"/_sandbox/links/([^/]+)/(delete)/"), _delete_link),
    (re.compile(r"/_sandbox/orders/([^/]+)/(finalize|expire|forbid)/"), _order_action),
)
