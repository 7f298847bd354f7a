"""`/_sandbox/` endpoints for tests and demos: seed orders, read the journal, move time.

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
    reconnect = _RECONNECT.fullmatch(path)
    if reconnect and method == "POST":
        sandbox.reconnect_link(reconnect.group(1))
        return wire.json_response(200, sandbox.link(reconnect.group(1)))
    return wire.not_found()


def _advance(sandbox: Sandbox, payload: Any) -> wire.Response:
    seconds = payload.get("seconds") if isinstance(payload, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"seconds: expected a number, got {seconds!r}")
    try:
        now = sandbox.advance_clock(float(seconds))
    except TypeError as exc:
        return wire.error(409, "clock_not_fixed", str(exc))
    return wire.json_response(200, {"now": iso(now), "monotonic": sandbox.clock.monotonic()})
