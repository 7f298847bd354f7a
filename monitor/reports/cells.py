"""How the compliance report's CSV and HTML cells show a value: times in the report's zone, yes / no,
empty for none. JSON keeps the values themselves (ISO 8601 with the offset)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo

from monitor.reports.evidence import findings_cell
from monitor.reports.evidence_shapes import PreClosingRow

# The zone the CSV and HTML cells show times in (`report --tz`), set for one write.
_ZONE: ContextVar[tzinfo] = ContextVar("report_zone", default=UTC)


@contextmanager
def zone_of_cells(zone: tzinfo) -> Iterator[None]:
    token = _ZONE.set(zone)
    try:
        yield
    finally:
        _ZONE.reset(token)


def utc_said() -> str:
    """ " UTC" after a time when the report is in UTC (another zone is named in the time itself)."""
    return " UTC" if _ZONE.get() is UTC else ""


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        zone = _ZONE.get()
        shown = value.astimezone(zone)
        # UTC is said once in the header; another zone is named in every cell (a CSV cell travels alone)
        return shown.strftime("%Y-%m-%d %H:%M") if zone is UTC else shown.strftime("%Y-%m-%d %H:%M %Z")
    return str(value)


def cells(row: Mapping[str, object], columns: Iterable[str]) -> list[str]:
    """A row's cells, in the columns' order."""
    return [cell(row[c]) for c in columns]


def hours(seconds: float | None) -> float | None:
    """A number for spreadsheets (hours, one decimal), where HTML shows "5 h" or "2.3 d"."""
    return None if seconds is None else round(seconds / 3600, 1)


def closing_cell(row: PreClosingRow, key: str) -> str:
    """A pre-closing cell: lists joined, findings with their disposition, note and who."""
    if key == "findings":
        return findings_cell(row["findings"])
    if key == "employers_verified":
        return "; ".join(row["employers_verified"])
    columns: Mapping[str, object] = row  # a column named at run time
    return cell(columns[key])
