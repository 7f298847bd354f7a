"""A checked cell of a row read as a mapping: a date in the loan calendar, an amount or a percentage."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from monitor.errors import ImportFileError
from monitor.loans_file.columns import FIRST_LOAN_DAY, LAST_LOAN_DAY, MAX_AMOUNT
from monitor.loans_file.values import text

# (column, what was expected, the value given) -> the error naming them at this row
Bad = Callable[[str, str, object], ImportFileError]
Raw = Mapping[str, object]


def day(raw: Raw, column: str, bad: Bad) -> date | None:
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


def amount(raw: Raw, column: str, bad: Bad, *, top: Decimal = MAX_AMOUNT) -> str | None:
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
