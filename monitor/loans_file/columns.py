"""What a loans file's row holds: the columns it may have, the bounds of their values, and LoanRow."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import NamedTuple

REQUIRED = ("loan_id", "order_id")
KNOWN = ("loan_id", "order_id", "gse", "status", "closing_date", "data_as_of")
# Optional columns of what was underwritten (issue 22): checked here, kept with the loan's attributes.
UNDERWRITING = (
    "delivery_date",
    "qualifying_income",
    "qualifying_income_unit",
    "dti",
    "monthly_debts",
    "funds_to_close",
    "reserves",
)
COLUMNS = KNOWN + UNDERWRITING  # what a loans file may hold without declaring it in jobs.yaml
AMOUNTS = ("qualifying_income", "monthly_debts", "funds_to_close", "reserves")
MAX_AMOUNT = Decimal("1000000000")  # a loan's figures are far below a billion; past it is a typo
INCOME_UNITS = ("monthly", "yearly")
TRUE = frozenset({"true", "1", "yes", "y", "t"})
FALSE = frozenset({"false", "0", "no", "n", "f", ""})
STATUSES = ("active", "closed")
# The loan dates a lender's file can mean (closing_date): anything outside is a typo or a placeholder
# (0001-01-01, 9999-12-31) that would break the date arithmetic of reports.
FIRST_LOAN_DAY = date(1900, 1, 1)
LAST_LOAN_DAY = date(2200, 12, 31)
FIRST_LOAN_MOMENT = datetime(FIRST_LOAN_DAY.year, FIRST_LOAN_DAY.month, FIRST_LOAN_DAY.day, tzinfo=UTC)


class LoanRow(NamedTuple):
    """One loan of a file. A named tuple, immutable as a frozen dataclass, made at a third of its cost:
    a 5M-loan import makes 5M of them (issue 26)."""

    row: int
    loan_id: str
    order_id: str
    gse: bool
    status: str
    closing_date: date | None
    data_as_of: datetime | None
    attributes: dict[str, str]
