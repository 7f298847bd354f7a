"""One row read as a mapping of column to value (every JSONL row, and the CSV rows the fast path leaves):
each value checked, the first wrong one named by row and column."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from monitor.core.controls import has_controls
from monitor.errors import ImportFileError
from monitor.loans_file.columns import (
    AMOUNTS,
    FALSE,
    FIRST_LOAN_DAY,
    INCOME_UNITS,
    KNOWN,
    LAST_LOAN_DAY,
    MAX_AMOUNT,
    REQUIRED,
    STATUSES,
    TRUE,
    LoanRow,
)
from monitor.loans_file.values import shown, shown_column, text, unreadable

# (column, what was expected, the value given) -> the error naming them at this row
Bad = Callable[[str, str, object], ImportFileError]
Raw = Mapping[str, object]


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
    attributes.update(_underwriting(raw, bad))
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


def _day(raw: Raw, column: str, bad: Bad) -> date | None:
    """A date column read and checked against the loan calendar (None when empty)."""
    cell = text(raw.get(column))
    if not cell:
        return None
    try:
        day = date.fromisoformat(cell)
    except ValueError:
        raise bad(column, "a date as YYYY-MM-DD", raw.get(column)) from None
    if not FIRST_LOAN_DAY <= day <= LAST_LOAN_DAY:
        raise bad(column, f"a date between {FIRST_LOAN_DAY} and {LAST_LOAN_DAY}", raw.get(column))
    return day


def _closing(raw: Raw, bad: Bad) -> date | None:
    return _day(raw, "closing_date", bad)


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


def _amount(raw: Raw, column: str, bad: Bad, *, top: Decimal = MAX_AMOUNT) -> str | None:
    cell = text(raw.get(column))
    if not cell:
        return None
    try:
        value = Decimal(cell.removesuffix("%") if column == "dti" else cell)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0 or value > top or (column == "dti" and value == 0):
        shape = (
            "a percentage like 43.5 (more than 0, at most 100)"
            if column == "dti"
            else f"an amount like 8500.00 (0 to {top:,})"
        )
        raise bad(column, shape, raw.get(column))
    return str(value)


def _underwriting(raw: Raw, bad: Bad) -> dict[str, str]:
    """The optional underwriting columns, checked and normalised (an empty one is left out)."""
    out: dict[str, str] = {}
    for column in AMOUNTS:
        if (value := _amount(raw, column, bad)) is not None:
            out[column] = value
    if (dti := _amount(raw, "dti", bad, top=Decimal(100))) is not None:
        out["dti"] = dti
    if unit := _income_unit(raw, bad, needed="qualifying_income" in out):
        out["qualifying_income_unit"] = unit
    if delivery := _day(raw, "delivery_date", bad):
        out["delivery_date"] = delivery.isoformat()
    return out


def _income_unit(raw: Raw, bad: Bad, *, needed: bool) -> str:
    unit = text(raw.get("qualifying_income_unit")).lower()
    if unit and unit not in INCOME_UNITS:
        raise bad("qualifying_income_unit", "monthly or yearly", raw.get("qualifying_income_unit"))
    if needed and not unit:
        raise bad(
            "qualifying_income_unit",
            "monthly or yearly (the unit of qualifying_income)",
            raw.get("qualifying_income_unit"),
        )
    return unit
