"""Entry point for `uvicorn --workers N monitor.asgi:receiver --factory`: the webhook receiver built from
the environment in each worker process (`monitor webhooks serve --workers N` sets that environment).

Its own module so that only entry points import the composition root (monitor.app)."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from monitor.app import build
from monitor.config import JobsFile, Settings, load_config
from monitor.log import configure
from monitor.webhooks.receiver import BODY_TIMEOUT, create_app


def receiver() -> Starlette:
    """App factory for `uvicorn --workers N`: each worker process builds its own services."""
    configure(level=os.environ.get("MONITOR_LOG_LEVEL", "info"))
    settings = Settings.from_env()
    # jobs.yaml for budgets.clock_skew_margin; the parent process has already validated it
    cfg = load_config(settings.config_path) if settings.config_path.exists() else JobsFile()
    services = build(cfg, settings, database=os.environ.get("MONITOR_DATABASE_URL"))
    return create_app(
        services,
        secret=settings.secret or "",
        path=os.environ.get("MONITOR_WEBHOOK_PATH", "/webhooks/truv"),
        body_timeout=float(os.environ.get("MONITOR_WEBHOOK_BODY_TIMEOUT", BODY_TIMEOUT)),
        metrics_token=settings.metrics_token,
    )
