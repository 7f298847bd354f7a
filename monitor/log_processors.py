"""structlog processors every log line goes through: secrets and URL passwords masked, enums as their
values, times in ISO 8601."""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

from structlog.typing import EventDict, WrappedLogger

from monitor.core.readable import isoformat_all
from monitor.truv.secrets import redact

# user:password@ in a URL (a database URL in a driver's message), up to the last @ of the word.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)\S*@")


def redact_event(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    masked: EventDict = _mask_urls(redact(event))
    return {k: v if k == "exc_info" else _plain(v) for k, v in masked.items()}


def iso_times(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
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
