"""The checks every API request passes before its endpoint, in Truv's (Django REST framework's) order:
routing (404), Accept (406), credentials (401 / 403); then, in `api.py`, the rate limit, the method and
the injected faults. Also the body's reading (415), which an endpoint asks for when it needs it.
"""

from __future__ import annotations

import json
import re

from monitor.sandbox import wire

# Path pattern -> {method: endpoint}; the one group is the resource id.
_ROUTES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = (
    (re.compile(r"/v1/orders/()"), {"GET": "order_list"}),
    (re.compile(r"/v1/orders/([^/]+)/"), {"GET": "order_get", "POST": "refresh"}),
    (re.compile(r"/v1/links/([^/]+)/"), {"GET": "link_get"}),
    (re.compile(r"/v1/links/([^/]+)/income/report/"), {"GET": "income_report"}),
    (re.compile(r"/v1/links/([^/]+)/employment/report/"), {"GET": "employment_report"}),
    (re.compile(r"/v1/users/([^/]+)/tokens/"), {"POST": "tokens"}),
    # One id group: "{user_id}/assets/reports/{report_id}", split by the handler.
    (re.compile(r"/v1/users/([^/]+/assets/reports/[^/]+)/"), {"GET": "assets_report"}),
)


def route(path: str) -> tuple[dict[str, str], str] | None:
    """The path's endpoints by method, and its resource id; None for an unknown path."""
    for pattern, methods in _ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return methods, match.group(1)
    return None


def accepts_json(accept: str | None) -> bool:
    if accept is None or not accept.strip():
        return True
    ranges = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(ranges & {"application/json", "application/*", "*/*"})


def authenticate(
    headers: dict[str, str], secrets: tuple[str, ...] | None, client_ids: tuple[str, ...] | None
) -> str | wire.Response:
    """The request's secret, or the 401 / 403 answer."""
    client_id = headers.get("x-access-client-id", "")
    secret = headers.get("x-access-secret", "")
    if not client_id or not secret:
        return wire.error(401, "authentication_failed", "Authentication credentials were not provided.")
    if secret.startswith(("prod", "dev")):
        env = "production" if secret.startswith("prod") else "development"
        return wire.error(403, "not_authenticated", f"A {env} secret cannot be used in the sandbox.")
    known = secret in secrets if secrets is not None else secret.startswith("sandbox")
    if not known or (client_ids is not None and client_id not in client_ids):
        return wire.error(401, "authentication_failed", "Invalid client id or secret.")
    return secret


def parse_body(headers: dict[str, str], body: bytes) -> object:
    """The JSON body (`{}` when empty), or the 415 answer (a `wire.Response`)."""
    if not body.strip():
        return {}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return wire.error(415, "unsupported_media_type", f'Unsupported media type "{content_type}" in request.')
    try:
        parsed: object = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return wire.error(415, "unsupported_media_type", "The request body is not valid JSON.")
    return parsed
