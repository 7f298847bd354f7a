"""The app around the console's routes: security headers on every answer (the 500 page included), and
what an error shows (a 400 page naming the parameter; a 500 that only says to read the log)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from monitor.console.security import SecurityHeaders
from monitor.console.web import Console
from monitor.errors import InputError

log = structlog.get_logger("monitor.console")


class SecuredStarlette(Starlette):
    """Starlette whose every answer, its own 500 page included, carries the security headers: the
    headers wrap the whole app, outside the error middleware Starlette puts outermost."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await SecurityHeaders(super().__call__)(scope, receive, send)


def error_handlers(console: Console) -> dict[Any, Callable[[Request, Exception], Any]]:
    def bad_request(request: Request, exc: Exception) -> Response:
        return console.error(request, None, status=400, title="Bad request", message=str(exc))

    def server_error(request: Request, exc: Exception) -> Response:
        log.error("console_error", path=request.url.path, error=type(exc).__name__)
        return PlainTextResponse("Internal error; see the console's log.", status_code=500)

    return {InputError: bad_request, 500: server_error}
