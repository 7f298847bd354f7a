"""structlog setup: JSON lines when not on a terminal, readable lines on one; secrets always masked.

Library logs (alembic, uvicorn, httpx) go through the same processors, so every stderr line
of a pass is one JSON object when a machine is reading.
"""

from __future__ import annotations

import logging
import re
import sys
from enum import Enum
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from monitor.core.readable import isoformat_all
from monitor.truv.secrets import redact

LEVELS = ("debug", "info", "warning", "error")
# user:password@ in a URL (a database URL in a driver's message), up to the last @ of the word.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)\S*@")


def _redact(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    masked: EventDict = _mask_urls(redact(event))
    return {k: v if k == "exc_info" else _plain(v) for k, v in masked.items()}


def _iso_times(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    # Both renderers fall back to repr: a lease's expiry would read `datetime.datetime(2026, 11, ...)`.
    # exc_info stays as given: format_exc_info reads its tuple.
    return {k: v if k == "exc_info" else isoformat_all(v) for k, v in event.items()}


def _plain(value: Any) -> Any:
    """An enum (a skip reason, a run state), in a value or a mapping's key, as its value: the console
    renderer would show a dict's keys by repr (`{<SkipReason.TOKEN_BUDGET: 'token_budget'>: 3}`)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _mask_urls(value: Any) -> Any:
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1***@", value) if "://" in value else value
    if isinstance(value, dict):
        return {k: _mask_urls(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_urls(v) for v in value]
    return value


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
        _iso_times,
        _redact,
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
