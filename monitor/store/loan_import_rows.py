"""One loans-file row against the loan tables: what their columns can hold (a data date in the future
refused too), and a loan_id given twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from monitor.errors import ImportFileError
from monitor.loans_file import LoanRow, shown_column
from monitor.store.loan_attribute_values import normalised
from monitor.store.tables import loan_attribute_table, loan_table

# A data date is when Truv collected the data, so it cannot be in the future; a day covers a loan
# system's clock or time-zone slip. Past that it would stop refreshes for good: the data date never
# moves backwards, so 9999-12-31 could never be corrected by a later import.
FUTURE_ALLOWANCE = timedelta(days=1)


def _width(column: Any) -> int:
    length = getattr(column.type, "length", None)  # SQLModel's string type passes it on from its String
    assert isinstance(length, int), column
    return length


_LOAN_WIDTHS = {name: _width(loan_table.c[name]) for name in ("loan_id", "order_id")}
_KEY_WIDTH = _width(loan_attribute_table.c.key)
_VALUE_WIDTH = _width(loan_attribute_table.c.value)
_LOAN_ID_WIDTH, _ORDER_ID_WIDTH = _LOAN_WIDTHS["loan_id"], _LOAN_WIDTHS["order_id"]
# A value this short fits once normalised: lowercasing maps a character to at most three (Unicode's
# full case mappings), and normalising never adds anything else.
_SURE_VALUE = _VALUE_WIDTH // 3


class RepeatedLoanId(ImportFileError):
    """A loan_id on two rows: the import stops here; `store.loan_repeats` then finds every repeat."""


def repeat(source: str, row: LoanRow, first: int) -> ImportFileError:
    return RepeatedLoanId(source, f"row {row.row}, column 'loan_id'", f"loan {row.loan_id!r} repeats row {first}")


def check_storable(row: LoanRow, *, not_after: datetime | None, source: str) -> None:
    """Refuse what the columns cannot hold (SQLite would keep it, Postgres would fail mid-import)
    and a data date in the future, naming the row and column."""
    if _surely_storable(row, not_after):
        return  # nearly every row: the checks below say which column is wrong, at a price per row
    problem = _width_problem(row) or _future_problem(row, not_after)
    if problem is not None:
        column, message = problem
        raise ImportFileError(source, f"row {row.row}, column {shown_column(column)}", message)


def _surely_storable(row: LoanRow, not_after: datetime | None) -> bool:
    """The cheap test every row passes first: short enough without normalising, no date in the future."""
    attributes = row.attributes
    return (
        len(row.loan_id) <= _LOAN_ID_WIDTH
        and len(row.order_id) <= _ORDER_ID_WIDTH
        and (not_after is None or row.data_as_of is None or row.data_as_of <= not_after)
        and (
            not attributes
            or (max(map(len, attributes)) <= _KEY_WIDTH and max(map(len, attributes.values())) <= _SURE_VALUE)
        )
    )


def _width_problem(row: LoanRow) -> tuple[str, str] | None:
    for name, width in _LOAN_WIDTHS.items():
        if len(value := getattr(row, name)) > width:
            return name, f"expected at most {width} characters, got {len(value)}"
    for key, value in row.attributes.items():
        if len(key) > _KEY_WIDTH:
            return key, f"expected a column name of at most {_KEY_WIDTH} characters, got {len(key)}"
        if len(normalised(value)) > _VALUE_WIDTH:
            return key, f"expected at most {_VALUE_WIDTH} characters, got {len(normalised(value))}"
    return None


def _future_problem(row: LoanRow, not_after: datetime | None) -> tuple[str, str] | None:
    if not_after is None or row.data_as_of is None or row.data_as_of <= not_after:
        return None
    return (
        "data_as_of",
        f"expected a time no later than {not_after:%Y-%m-%dT%H:%M}Z (data cannot be collected in the future), "
        f"got {row.data_as_of.isoformat()!r}",
    )
