"""The webhook receiver: verify, store, acknowledge, apply. Starlette under uvicorn.

The raw event is committed before the 2xx (Truv retries anything unanswered within 10 s, and
rule 9 says nothing is acted on before it is stored). Applying happens in the same transaction,
through `monitor.store.webhook_events` (the pipeline every pass uses too), and never calls Truv; an
event stored but not applied (the process died in between) is applied at the next start or pass.

Requests do not commit one by one: each verified event is queued for one writer task, which stores
and applies whatever is queued (up to BATCH events) in one transaction in a thread, and only then
answers each request. A commit costs the same for one event or sixty, so under load the events that
arrived while one batch was committing share the next commit; alone, an event waits for nobody. If
the batch's transaction fails, every request in it gets the 503 and Truv sends them again.

The port faces the internet, so nothing is read before it is bounded: the body is read as a stream,
cut at `max_body` (413) and given `body_timeout` seconds (408); `uvicorn_options` bounds the rest
(connections, idle and half-sent request heads, header size).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hmac
import json
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import h11
import structlog
from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from monitor.core.signature import verify
from monitor.core.webhook_events import envelope_problem, event_type_label
from monitor.errors import MonitorError
from monitor.services import Context
from monitor.store import webhook_events

log = structlog.get_logger("monitor.webhooks")
MAX_BODY = 256 * 1024  # Truv's events are a few hundred bytes; anything this large is not one
BODY_TIMEOUT = 10.0  # seconds to send a whole body; Truv sends a few hundred bytes at once
MAX_CONNECTIONS = 512  # open at once; past it a new connection may ask for /healthz or /metrics only
PER_ADDRESS = 64  # open at once from one client address; past it a new one is closed unanswered
HEALTH_SPARE = 16  # connections past MAX_CONNECTIONS kept for probes: /healthz must answer on a full server
KEEP_ALIVE = 5  # seconds an idle connection, or one still sending its request head, is kept
MAX_HEAD = 16 * 1024  # bytes of request line and headers; past it 431 (HeadDeadlineH11Protocol.head_too_long)
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 32\r\n\r\nrequest head larger than 16 KiB\n"
)
BATCH = 64  # events per commit at most: enough to amortise the commit, few enough to keep p99 short


# Why a request was answered without storing anything: nothing of it reaches the database, so only this
# process's counter knows (per worker process with `--workers N`: Prometheus sums them per scrape target).
REJECTED_REASONS = {401: "signature", 400: "invalid", 413: "too_large", 408: "timeout"}


def rejected_counter() -> Counter:
    counter = Counter(
        "monitor_webhooks_rejected",
        "Webhook requests refused before storing, by reason (signature, invalid, too_large, timeout, disconnected).",
        labelnames=["reason"],
        registry=None,  # registered into each scrape's registry beside the database's figures
    )
    for label in (*REJECTED_REASONS.values(), "disconnected"):
        counter.labels(label)  # exported at 0: an alert on a rate must not wait for the first one
    return counter


class _Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error

    def response(self) -> JSONResponse:
        # Connection: close: the rest of a refused body is never read, and the client cannot keep the socket.
        return JSONResponse({"error": self.error}, status_code=self.status, headers={"Connection": "close"})


async def read_body(request: Request, *, max_body: int, timeout: float) -> bytes:
    """The body as a stream, whatever its framing (Content-Length, chunked, or a length that lies):
    never more than `max_body` bytes held, never more than `timeout` seconds spent. Raises _Refused."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body:
        raise _Refused(413, "body too large")

    async def read() -> bytes:
        body = bytearray()
        async for chunk in request.stream():
            if len(body) + len(chunk) > max_body:
                raise _Refused(413, "body too large")
            body += chunk
        return bytes(body)

    try:
        return await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        raise _Refused(408, "body not received in time") from None


def parse(body: bytes) -> tuple[str, dict[str, object]]:
    """The body as text and the event, if it can be stored: UTF-8 JSON (RFC 8259), an object with a
    webhook_id and an event_type. Anything else is _Refused(400), never a 500 (json raises
    RecursionError on deep nesting). The text is what is stored: no column can hold invalid UTF-8."""
    try:
        text = body.decode("utf-8")
        event = json.loads(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise _Refused(400, "body is not UTF-8 JSON") from None
    problem = envelope_problem(event)
    if problem is not None:
        raise _Refused(400, problem)
    return text, event


_Answer = tuple[str, str | None]
_Store = Callable[[Any, Sequence[tuple[str, dict[str, object]]]], list[_Answer | Exception]]
_Queued = tuple[str, dict[str, object], asyncio.Future[_Answer]]  # the body, its event, its answer


class BatchWriter:
    """The one writer of an event loop: stores what requests queue, a batch per transaction, and resolves
    each request's future only once its batch is committed (or with the error that kept it out)."""

    def __init__(self, services: Context, store: _Store = webhook_events.receive_batch, batch: int = BATCH) -> None:
        self._services, self._store, self._batch = services, store, batch
        self._queue: asyncio.Queue[_Queued] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, text: str, event: dict[str, object]) -> _Answer:
        loop = asyncio.get_running_loop()
        # Started here rather than only at startup: an app driven without its lifespan (httpx's ASGI
        # transport, the demo) still gets its writer, on the loop that serves it.
        if self._queue is None or self._task is None or self._task.done() or self._loop is not loop:
            self._loop, self._queue = loop, asyncio.Queue()
            self._task = loop.create_task(self._run(self._queue))
        answer: asyncio.Future[_Answer] = loop.create_future()
        self._queue.put_nowait((text, event, answer))
        return await answer

    async def stop(self) -> None:
        """At shutdown, once no request is left waiting (uvicorn finishes them before the lifespan ends)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, queue: asyncio.Queue[_Queued]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self._batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                answers = await run_in_threadpool(self._store, self._services, [(t, e) for t, e, _ in batch])
            except Exception as exc:  # the store answers per event; this is only a fault of the store itself
                answers = [exc] * len(batch)
            for (_, _, future), answer in zip(batch, answers, strict=True):
                if future.done():  # the client went away; its event is stored or not, and it will retry
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)


def create_app(
    services: Context,
    *,
    secret: str | None,
    path: str = "/webhooks/truv",
    max_body: int = MAX_BODY,
    body_timeout: float = BODY_TIMEOUT,
    health: Callable[[], tuple[bool, Mapping[str, object]]] | None = None,
    writer: BatchWriter | None = None,
    metrics_token: str | None = None,
) -> Starlette:
    """Without a secret there is no webhook route: /healthz and /metrics only (the daemon's own port).

    With `health` (the daemon's), /healthz adds the scheduler's state and answers 503 when it is not ok.

    /healthz is constant-time (the database answers one `SELECT 1`; no table is scanned: counting
    every webhook row took 0.59 s at 1M rows, issue 25 point 13). A port that receives webhooks faces
    the internet, so there /metrics and /healthz's detail (the event counts) need
    `Authorization: Bearer <metrics_token>` (MONITOR_METRICS_TOKEN); without a token they are refused.
    """
    rejected = rejected_counter()
    writer = writer or BatchWriter(services)

    async def receive(request: Request) -> Response:
        try:
            body = await read_body(request, max_body=max_body, timeout=body_timeout)
            if not verify(body, request.headers.get("x-webhook-sign"), secret or ""):
                log.warning("webhook_rejected", reason="signature")
                rejected.labels("signature").inc()
                return JSONResponse({"error": "invalid signature"}, status_code=401)
            text, event = parse(body)
        except _Refused as refused:
            log.info("webhook_refused", status=refused.status, error=refused.error)
            rejected.labels(REJECTED_REASONS.get(refused.status, str(refused.status))).inc()
            return refused.response()
        except ClientDisconnect:
            # Nobody is left to answer: an ordinary event on the internet, not an error.
            log.debug("webhook_client_disconnected")
            rejected.labels("disconnected").inc()
            return Response(status_code=400)
        try:
            state, reason = await writer.receive(text, event)
        except MonitorError as exc:
            log.error("webhook_store_failed", error=str(exc))
            return JSONResponse({"error": "not stored; retry"}, status_code=503)
        log.info("webhook", event_type=event_type_label(str(event["event_type"])), state=state)
        # 2xx for an invalid event too: it is kept, and Truv retrying it would not make it valid.
        return JSONResponse({"status": state, **({"reason": reason} if reason else {})})

    def private(request: Request) -> bool:
        """The daemon's own port (no webhook route), or a caller with the metrics token."""
        if not secret:
            return True
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return bool(metrics_token) and scheme.lower() == "bearer" and hmac.compare_digest(given, metrics_token or "")

    async def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        if not private(request):
            return JSONResponse({"error": "metrics need Authorization: Bearer MONITOR_METRICS_TOKEN"}, status_code=401)
        from monitor.metrics import render

        body = await run_in_threadpool(render, services, (rejected,))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> JSONResponse:
        try:
            await run_in_threadpool(webhook_events.alive, services)
            detail = private(request) and "detail" in request.query_params
            stats: Mapping[str, object] = await run_in_threadpool(webhook_events.counts, services) if detail else {}
            if health is not None:  # the daemon: its jobs' next fire and last pass
                healthy, scheduler = await run_in_threadpool(health)
                return JSONResponse({"ok": healthy, **stats, **scheduler}, status_code=200 if healthy else 503)
        except MonitorError as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=503)
        return JSONResponse({"ok": True, **stats})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        done = await run_in_threadpool(webhook_events.apply_pending, services)
        if done:
            log.info("webhooks_applied_at_start", **done)
        try:
            yield
        finally:
            await writer.stop()

    return Starlette(
        routes=[
            *([Route(path, receive, methods=["POST"])] if secret else []),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        middleware=[Middleware(SpareOnly)],
        lifespan=lifespan,
    )


# Open connections per client address, per server (one uvicorn server per worker process or thread).
_OPEN: weakref.WeakKeyDictionary[ServerState, collections.Counter[str]] = weakref.WeakKeyDictionary()


class HeadDeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a head deadline and connection limits of our own.

    The keep-alive timer also runs from the moment a connection opens, and only a complete request head
    stops it: uvicorn stops it at any byte received and never starts it on a new connection, so a client
    that connects and sends nothing, or sends its headers a byte at a time (slow-loris), would hold a
    connection and a file descriptor for ever. Bodies have their own deadline (create_app's body_timeout).

    Limits are counted per client address, not only in total: uvicorn's `limit_concurrency` answers 503 to
    every request, /healthz included, once the total passes it, so one client holding idle sockets starved
    Truv's deliveries and had Kubernetes restart the pod (issue 25 point 4). Here a connection past
    `per_address` from its address is closed at once, unanswered; past `max_connections` in total a
    connection is still served, for /healthz and /metrics only (`HEALTH_SPARE` more), and anything
    else on it is a 503 (`spare_only`), so a probe still gets in and a flood cannot take the process's
    file descriptors either.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, object],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        per_address: int = PER_ADDRESS,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.per_address, self.max_connections = per_address, max_connections
        self.address: str | None = None
        self.head_seen = 0  # bytes of the current request head received so far

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        open_ = _OPEN.setdefault(self.server_state, collections.Counter())
        total = len(self.server_state.connections)
        if open_[address] >= self.per_address or total >= self.max_connections + HEALTH_SPARE:
            transport.abort()  # nothing read, nothing answered: a flood costs us one accept
            return
        open_[address] += 1
        self.address = address
        if total >= self.max_connections:  # a spare slot: probes only (see spare_only)
            self.app_state = {**self.app_state, SPARE_ONLY: True}
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.address is None:  # refused in connection_made: uvicorn never knew it
            return
        open_ = _OPEN.get(self.server_state)
        if open_ is not None:
            open_[self.address] -= 1
            if open_[self.address] <= 0:
                del open_[self.address]
        self.address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self.head_too_long(data):
            self.transport.write(_TOO_LARGE)
            self.transport.close()
            return
        # Not super(): that cancels the timer; handle_events cancels it once a request head is complete.
        self.conn.receive_data(data)
        self.handle_events()

    def head_too_long(self, data: bytes) -> bool:
        """Whether the request head being received passes MAX_HEAD. h11's own limit applies only to a
        head that arrives across reads, and a read takes up to 64 KiB: a 20 KiB head sent at once passed
        it. Counted here per read, up to the blank line that ends the head."""
        end = data.find(b"\r\n\r\n")
        size = self.head_seen + (len(data) if end < 0 else end + 4)
        self.head_seen = 0 if end >= 0 else size
        return size > MAX_HEAD


SPARE_ONLY = "monitor.spare_connection"  # in the ASGI scope's state of a connection past max_connections
PROBES = ("/healthz", "/metrics")


class SpareOnly:
    """503 for anything but a probe on a connection served past max_connections (see the protocol)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("state", {}).get(SPARE_ONLY) and scope["path"] not in PROBES:
            response = JSONResponse({"error": "busy; retry"}, status_code=503, headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def uvicorn_options(
    *, max_connections: int = MAX_CONNECTIONS, keep_alive: int = KEEP_ALIVE, per_address: int = PER_ADDRESS
) -> dict[str, Any]:
    """uvicorn settings for a port that faces the internet (with create_app's body limits). No
    `limit_concurrency`: the protocol limits connections per address and keeps spare ones for probes."""
    return {
        # a partial of a module-level class: `--workers N` pickles the config into each worker
        "http": functools.partial(HeadDeadlineH11Protocol, per_address=per_address, max_connections=max_connections),
        "timeout_keep_alive": keep_alive,
        "h11_max_incomplete_event_size": MAX_HEAD,
        "log_level": "warning",
        "access_log": False,
    }
