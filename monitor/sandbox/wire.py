"""The sandbox's HTTP-free response type and Truv's error body shapes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_HEADERS = {"content-type": "application/json"}


@dataclass(slots=True)
class Response:
    """What the simulator answers; transports turn it into their own response type.

    `drop_connection` means the request was handled but the client must see a transport
    error instead of this answer; `delay` is how long the answer takes to arrive.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drop_connection: bool = False
    delay: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status=status,
        headers={**JSON_HEADERS, **(headers or {})},
        body=json.dumps(payload, separators=(",", ":")).encode(),
    )


def error(status: int, code: str, message: str, invalid: list[dict[str, str]] | None = None) -> Response:
    """Truv's standard error body; `extra.invalid-params` appears only on 400."""
    body: dict[str, object] = {"code": code, "message": message}
    if invalid is not None:
        body["extra"] = {"invalid-params": invalid}
    return json_response(status, {"error": body})


def bad_request(message: str, invalid: list[dict[str, str]]) -> Response:
    return error(400, "incorrect_parameters", message, invalid)


def not_found() -> Response:
    # 404 uses DRF's shape, not the standard error body (truv-api.md section 7).
    return json_response(404, {"detail": "Not Found."})


def method_not_allowed(method: str) -> Response:
    return json_response(405, {"detail": f'Method "{method}" not allowed.'})
