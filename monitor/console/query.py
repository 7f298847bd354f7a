"""Reading a page's query: flags, texts, dates and numbers, each bounded; anything else is a 400
(InputError) naming the parameter."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from starlette.requests import Request

from monitor.errors import InputError
from monitor.store.console_reads import MAX_SEARCH

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "on", "true", "yes")


def text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    return value or None


def day(request: Request, name: str) -> date | None:
    value = text(request, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(name, "", f"expected a date YYYY-MM-DD, got {value!r}") from None


def midnight(value: date | None) -> datetime | None:
    """The day's start, UTC (None stays None)."""
    return datetime(value.year, value.month, value.day, tzinfo=UTC) if value else None


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    # ASCII digits only (str.isdigit takes "²"), and few of them (int() refuses past 4,300 digits)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise InputError("page", "", f"expected a page number, got {raw[:20]!r}")
    return max(1, int(raw))


def seq(request: Request, name: str) -> int | None:
    """An audit entry's number."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        raise InputError(name, "", f"expected an entry number, got {raw[:20]!r}")
    return int(raw)


def search_text(request: Request) -> str | None:
    """What to search for: at most MAX_SEARCH characters, no control characters (no id holds one, and
    Postgres refuses a NUL in text)."""
    found = text(request, "q")
    if found is not None and (len(found) > MAX_SEARCH or _CONTROL.search(found)):
        raise InputError("q", "", f"expected the start of a loan id or order id (at most {MAX_SEARCH} characters)")
    return found
