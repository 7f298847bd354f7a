"""One way to show times, durations and failure causes, in JSON, logs, tables and the report.

Operators paste JSON times into `datetime.fromisoformat` and jq; `str(datetime)` puts a space where ISO 8601
puts `T`, and a log renderer falling back to `repr` shows `datetime.datetime(...)`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A reservation's outcome names every status its suborders ended in ("completed,mfa_error"); these say nothing failed.
_COMPLETED = frozenset({"completed", "done"})


def iso(value: Any) -> Any:
    """Datetimes, dates and times as ISO 8601 (`T` between date and time); anything else unchanged."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def isoformat_all(value: Any) -> Any:
    """`iso` through dicts, lists and tuples (what a log event or a view holds)."""
    if isinstance(value, dict):
        return {k: isoformat_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [isoformat_all(v) for v in value]
    return iso(value)


def json_default(value: Any) -> Any:
    """`json.dumps(default=...)`: times as ISO 8601, timedeltas as seconds, anything else as text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def dumps(value: object, *, sort_keys: bool = False) -> str:
    """JSON with `json_default` for what json cannot write."""
    return json.dumps(value, default=json_default, sort_keys=sort_keys)


def duration_text(seconds: float | None) -> str:
    """A wait as people read it: "40 min", "5 h", "2.3 d" (never "0.0 days")."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{seconds / 86400:.1f} d"


def zone(name: str) -> tzinfo:
    """An IANA zone name (or UTC); ValueError naming what was expected."""
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA time zone like UTC or America/New_York, got {name!r}") from None


def zone_label(tz: tzinfo) -> str:
    return "UTC" if tz is UTC else str(tz)


def failure_labels(outcome: str | None) -> list[str]:
    """One label per status a failed refresh's suborders ended in, the completed ones left out."""
    words = [w.strip() for w in (outcome or "").split(",") if w.strip()]
    failed = [w for w in words if w not in _COMPLETED]
    return failed or ["unknown"]


def failures_by_status(by_outcome: Mapping[str | None, int]) -> dict[str, int]:
    """Failed refreshes counted by outcome -> failed suborder statuses counted one by one."""
    counts: Counter[str] = Counter()
    for outcome, n in by_outcome.items():
        for label in failure_labels(outcome):
            counts[label] += n
    return dict(sorted(counts.items()))


def count_lines(counts: Mapping[str, Any] | None, *, empty: str = "-") -> str:
    """A reason -> count mapping as `reason count` lines, biggest first (a table cell, not a dict)."""
    if not counts:
        return empty
    ordered: Iterable[tuple[str, Any]] = sorted(counts.items(), key=lambda kv: (-int(kv[1] or 0), kv[0]))
    return "\n".join(f"{k} {v}" for k, v in ordered)
