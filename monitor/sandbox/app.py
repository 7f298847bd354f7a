"""The sandbox over real HTTP: a Starlette app and a uvicorn runner.

A `drop_connection` fault is served by sending the status line and headers (with the real
Content-Length) and then returning without a body: uvicorn closes the socket, and an httpx
client raises `httpx.RemoteProtocolError` ("peer closed connection without sending
complete message body"). Raising instead would make Starlette answer a 500, which is a
response, not a lost one. The request was applied before the drop, as with the in-process
transport.

With a `webhook_url`, the server runs a `WebhookPump` beside uvicorn: started once the
server is listening, stopped (joined) when it shuts down.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from monitor.sandbox import front
from monitor.sandbox.state import Sandbox
from monitor.sandbox.webhook_pump import WebhookPump

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_INCOMPLETE = "ASGI callable returned without completing response."


class _DroppedResponse(Response):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})


def create_app(sandbox: Sandbox, latency: float = 0.0) -> Starlette:
    """`latency` is awaited per request, so concurrent requests overlap as with real Truv."""

    async def endpoint(request: Request) -> Response:
        if latency > 0:
            await asyncio.sleep(latency)
        body = await request.body()
        answer = front.answer(sandbox, request.method, request.url.path, request.headers, body, request.url.query)
        if answer.delay > 0:
            await asyncio.sleep(answer.delay)
        cls = _DroppedResponse if answer.drop_connection else Response
        return cls(answer.body, status_code=answer.status, headers=answer.headers)

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=_METHODS)])


class _QuietDrops(logging.Filter):
    """Hide uvicorn's error line for the connections we drop on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _INCOMPLETE


class SandboxServer(uvicorn.Server):
    """uvicorn plus an optional `WebhookPump`; `announce` prints the URL once bound."""

    def __init__(self, config: uvicorn.Config, pump: WebhookPump | None = None, announce: bool = False) -> None:
        super().__init__(config)
        self.pump = pump
        self.announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        if self.announce:
            base = f"http://{self.config.host}:{bound_port(self)}/v1/"
            print(f"sandbox listening on {base}", flush=True)
            print(export_lines(base), flush=True)
        if self.pump is not None:
            self.pump.start()
            if self.announce:
                print(f"sandbox webhooks go to {self.pump.url}", flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.pump is not None:
            # Joining may wait for one in-flight POST; keep the event loop free meanwhile.
            await asyncio.to_thread(self.pump.stop)
        await super().shutdown(sockets)


def make_server(
    sandbox: Sandbox,
    host: str = "127.0.0.1",
    port: int = 8000,
    latency: float = 0.0,
    *,
    webhook_url: str | None = None,
    webhook_interval: float = 0.25,
    announce: bool = False,
) -> SandboxServer:
    """A uvicorn server for `create_app`; port 0 picks a free port (see `bound_port`).

    With `webhook_url`, `server.pump` is a `WebhookPump` posting the sandbox's webhooks
    there while the server runs.
    """
    config = uvicorn.Config(create_app(sandbox, latency), host=host, port=port, log_level="warning", lifespan="off")
    pump = WebhookPump(sandbox, webhook_url, interval=webhook_interval) if webhook_url else None
    server = SandboxServer(config, pump=pump, announce=announce)
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in error_log.filters):
        error_log.addFilter(_QuietDrops())
    return server


# Any client id, and any secret that starts with "sandbox", is accepted (see Sandbox's credentials).
REHEARSAL_CLIENT_ID, REHEARSAL_SECRET = "sandbox", "sandbox-rehearsal"


def export_lines(base_url: str) -> str:
    """The environment `monitor run` needs to use this sandbox as Truv, as lines to paste into a shell."""
    return (
        "# in the shell that runs monitor:\n"
        f"export TRUV_BASE_URL={base_url}\n"
        f"export TRUV_CLIENT_ID={REHEARSAL_CLIENT_ID}\n"
        f"export TRUV_SECRET={REHEARSAL_SECRET}"
    )


def bound_port(server: uvicorn.Server) -> int:
    """The port a started server listens on (useful after binding port 0)."""
    return int(server.servers[0].sockets[0].getsockname()[1])


def serve(
    sandbox: Sandbox,
    host: str = "127.0.0.1",
    port: int = 8000,
    latency: float = 0.0,
    *,
    webhook_url: str | None = None,
) -> None:
    """Run until interrupted (Ctrl-C / SIGTERM); says where it listens once bound, so
    `--port 0` is usable from scripts. Webhooks go to `webhook_url`, else to
    `sandbox.webhook_url` (a scenario file's `settings.webhook_url`), else nowhere."""
    server = make_server(sandbox, host, port, latency, webhook_url=webhook_url or sandbox.webhook_url, announce=True)
    try:
        server.run()
    finally:
        if server.pump is not None:
            server.pump.stop()
