"""One row read as a mapping of column to value (every JSONL row, and the CSV rows the fast path leaves):
each value checked, the first wrong one named by row and column."""

from __future__ import annotations

from datetime import UTC, date, datetime

from monitor.core.controls import has_controls
from monitor.errors import ImportFileError
from monitor.loans_file.cells import Bad, Raw, day
from monitor.loans_file.columns import (
    FALSE,
    FIRST_LOAN_DAY,
    KNOWN,
    REQUIRED,
    STATUSES,
    TRUE,
    LoanRow,
)
from monitor.loans_file.underwriting import underwriting
from monitor.loans_file.values import shown, shown_column, text, unreadable


def parse_row(raw: Raw, *, row: int, source: str) -> LoanRow:
    def bad(column: str, expected: str, value: object) -> ImportFileError:
        return ImportFileError(
            source, f"row {row}, column {shown_column(column)}", f"expected {expected}, got {shown(value)}"
        )

    _check_cells(raw, row, source, bad)
    _check_ids(raw, row, source, bad)
    gse_text = text(raw.get("gse")).lower()
    if gse_text not in TRUE | FALSE:
        raise bad("gse", "true or false", raw.get("gse"))
    status = text(raw.get("status")).lower() or "active"
    if status not in STATUSES:
        raise bad("status", "active or closed", raw.get("status"))
    closing, as_of = _closing(raw, bad), _as_of(raw, bad)  # before the underwriting: the errors' order
    attributes = {k.strip(): text(v) for k, v in raw.items() if k.strip() not in KNOWN}
    attributes.update(underwriting(raw, bad))
    return LoanRow(
        row=row,
        loan_id=text(raw["loan_id"]),
        order_id=text(raw["order_id"]),
        gse=gse_text in TRUE,
        status=status,
        closing_date=closing,
        data_as_of=as_of,
        attributes={k: v for k, v in attributes.items() if k},
    )


def _check_cells(raw: Raw, row: int, source: str, bad: Bad) -> None:
    """Every name and value readable at all (no NUL, no line break, no nested JSON)."""
    for key, value in raw.items():
        if expected := unreadable(key):
            raise ImportFileError(source, f"row {row}", f"expected column names as {expected}, got {shown(key)}")
        if expected := unreadable(value):
            raise bad(key, expected, value)


def _check_ids(raw: Raw, row: int, source: str, bad: Bad) -> None:
    for column in REQUIRED:
        if not text(raw.get(column)):
            raise ImportFileError(source, f"row {row}, column {column!r}", "required value is empty or missing")
    for column in REQUIRED:  # an id is typed and shown everywhere: ESC, BEL, C1 or U+2028 in it is an attack
        if has_controls(text(raw.get(column))):
            raise bad(column, "an id without control characters", raw.get(column))


def _closing(raw: Raw, bad: Bad) -> date | None:
    return day(raw, "closing_date", bad)


def _as_of(raw: Raw, bad: Bad) -> datetime | None:
    cell = text(raw.get("data_as_of"))
    if not cell:
        return None
    try:
        as_of = datetime.fromisoformat(cell.replace("Z", "+00:00"))
        # A date or a time without an offset is read as UTC: loan systems rarely say.
        as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset pushing year 1 or 9999 past the calendar
        raise bad("data_as_of", "an ISO-8601 time like 2026-11-01T09:30:00Z", raw.get("data_as_of")) from None
    if as_of.date() < FIRST_LOAN_DAY:  # the future is the store's check (it knows now)
        raise bad("data_as_of", f"a time after {FIRST_LOAN_DAY}", raw.get("data_as_of"))
    return as_of
