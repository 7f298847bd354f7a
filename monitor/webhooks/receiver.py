"""The webhook receiver: verify, store, acknowledge, apply. Starlette under uvicorn.

The raw event is committed before the 2xx (Truv retries anything unanswered within 10 s, and
rule 9 says nothing is acted on before it is stored). Applying happens right after, in the same
request; an event stored but not applied (the process died in between) is applied at the next
start or pass.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.app import Services
from monitor.errors import MonitorError
from monitor.webhooks import apply as applying
from monitor.webhooks.signature import verify

log = structlog.get_logger("monitor.webhooks")
MAX_BODY = 256 * 1024  # Truv's events are a few hundred bytes; anything this large is not one


def create_app(
    services: Services, *, secret: str | None, path: str = "/webhooks/truv", max_body: int = MAX_BODY
) -> Starlette:
    """Without a secret there is no webhook route: /healthz and /metrics only (the daemon's own port)."""

    async def receive(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body:
            return JSONResponse({"error": "body too large"}, status_code=413)
        body = await request.body()
        if len(body) > max_body:
            return JSONResponse({"error": "body too large"}, status_code=413)
        if not verify(body, request.headers.get("x-webhook-sign"), secret or ""):
            log.warning("webhook_rejected", reason="signature")
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            event = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(event, dict) or not event.get("webhook_id") or not event.get("event_type"):
            return JSONResponse({"error": "expected an object with webhook_id and event_type"}, status_code=400)
        try:
            state = await run_in_threadpool(applying.receive, services, body, event)
        except MonitorError as exc:
            log.error("webhook_store_failed", error=str(exc))
            return JSONResponse({"error": "not stored; retry"}, status_code=503)
        log.info("webhook", event_type=event["event_type"], state=state)
        return JSONResponse({"status": state})

    async def metrics(_request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        from monitor.metrics import render

        return Response(await run_in_threadpool(render, services), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_request: Request) -> JSONResponse:
        try:
            stats: dict[str, Any] = await run_in_threadpool(applying.counts, services)
        except MonitorError as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=503)
        return JSONResponse({"ok": True, **stats})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        done = await run_in_threadpool(applying.apply_pending, services)
        if done:
            log.info("webhooks_applied_at_start", **done)
        yield

    return Starlette(
        routes=[
            *([Route(path, receive, methods=["POST"])] if secret else []),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def from_environment() -> Starlette:
    """App factory for `uvicorn --workers N`: each worker process builds its own services."""
    import os

    from monitor.app import build
    from monitor.config import JobsFile, Settings
    from monitor.log import configure

    configure(level=os.environ.get("MONITOR_LOG_LEVEL", "info"))
    settings = Settings.from_env()
    services = build(JobsFile(), settings, database=os.environ.get("MONITOR_DATABASE_URL"))
    return create_app(
        services, secret=settings.secret or "", path=os.environ.get("MONITOR_WEBHOOK_PATH", "/webhooks/truv")
    )
