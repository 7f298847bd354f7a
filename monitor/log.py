"""structlog setup: JSON lines when not on a terminal, readable lines on one; secrets always masked.

Library logs (alembic, uvicorn, httpx) go through the same processors, so every stderr line
of a pass is one JSON object when a machine is reading.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from monitor.log_processors import iso_times, redact_event

LEVELS = ("debug", "info", "warning", "error")


def configure(*, json_logs: bool | None = None, level: str = "info") -> None:
    if json_logs is None:
        json_logs = not sys.stderr.isatty()
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):  # the CLI offers LEVELS only; other callers get the default
        numeric = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        iso_times,
        redact_event,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer(colors=False)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # httpx logs every request URL at INFO; ours says what matters.
    logging.getLogger("httpx").setLevel(max(numeric, logging.WARNING))
    logging.getLogger("httpcore").setLevel(max(numeric, logging.WARNING))
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))  # migration chatter on every start
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
