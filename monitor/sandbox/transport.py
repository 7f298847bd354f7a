"""httpx transports that answer from a `Sandbox` in-process, with faults as httpx errors."""

from __future__ import annotations

import asyncio

import httpx

from monitor.sandbox import front, wire
from monitor.sandbox.state import Sandbox


def _to_httpx(request: httpx.Request, answer: wire.Response) -> httpx.Response:
    """The answer as httpx would receive it, or the transport error a fault causes.

    The sandbox has already applied the request when this runs, which is the point:
    the client cannot tell whether its refresh was created.
    """
    if answer.drop_connection:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    if answer.delay > 0:
        read_timeout = request.extensions.get("timeout", {}).get("read")
        # Compare instead of sleeping: tests stay fast and the outcome is the same.
        if read_timeout is not None and answer.delay > read_timeout:
            raise httpx.ReadTimeout("The read operation timed out", request=request)
    return httpx.Response(answer.status, headers=answer.headers, content=answer.body, request=request)


class SandboxTransport(httpx.BaseTransport):
    """`httpx.Client(base_url="https://prod.truv.com/v1/", transport=SandboxTransport(sb))`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        answer = front.answer(
            self.sandbox,
            request.method,
            request.url.path,
            request.headers,
            body,
            request.url.query.decode("ascii", "replace"),
        )
        return _to_httpx(request, answer)


class AsyncSandboxTransport(httpx.AsyncBaseTransport):
    """The same for `httpx.AsyncClient`; `latency` is a real `asyncio.sleep` per request."""

    def __init__(self, sandbox: Sandbox, latency: float = 0.0) -> None:
        self.sandbox = sandbox
        self.latency = latency

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        answer = front.answer(
            self.sandbox,
            request.method,
            request.url.path,
            request.headers,
            body,
            request.url.query.decode("ascii", "replace"),
        )
        return _to_httpx(request, answer)
