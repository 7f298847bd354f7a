"""One request to the sandbox from any transport (HTTP or in-process): the admin paths that script it
(`/_sandbox/...`, never journaled) go to admin.py, Truv's API to `Sandbox.handle`."""

from __future__ import annotations

from collections.abc import Mapping

from monitor.sandbox import wire
from monitor.sandbox.admin import handle_admin
from monitor.sandbox.state import Sandbox

ADMIN_PREFIX = "/_sandbox/"


def answer(
    sandbox: Sandbox, method: str, path: str, headers: Mapping[str, str], body: bytes, query: str = ""
) -> wire.Response:
    if path.startswith(ADMIN_PREFIX):
        return handle_admin(sandbox, method.upper(), path, body)
    return sandbox.handle(method, path, headers, body, query)
