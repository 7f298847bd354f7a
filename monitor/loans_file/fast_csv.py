"""parse_row for the common well-formed CSV row, without building a dict per row: a 5M-loan import
spends most of its parsing here, so each row costs a few method calls and dictionary look-ups."""

from __future__ import annotations

from datetime import UTC, date, datetime

from monitor.core.controls import has_controls
from monitor.loans_file.columns import (
    FALSE,
    FIRST_LOAN_DAY,
    FIRST_LOAN_MOMENT,
    KNOWN,
    LAST_LOAN_DAY,
    STATUSES,
    TRUE,
    UNDERWRITING,
    LoanRow,
)

# A flag's text -> its value; a text missing here is not sure, and parse_row names it.
_FLAGS = {**dict.fromkeys(FALSE, False), **dict.fromkeys(TRUE, True)}
_STATUSES = {"": "active", **{s: s for s in STATUSES}}


class FastCsv:
    """`parse` answers None for anything it is not sure of (a missing value, an odd flag, a date it cannot
    read, a NUL or line break anywhere, an underwriting value): parse_row then reads that row and names
    what is wrong, so the errors and their order stay parse_row's. Where `parse` answers, its LoanRow is
    parse_row's."""

    def __init__(self, header: list[str]) -> None:
        at = {name: i for i, name in enumerate(header)}
        self.width = len(header)
        self.loan_id, self.order_id = at["loan_id"], at["order_id"]
        self.gse, self.status = at.get("gse"), at.get("status")
        self.closing, self.as_of = at.get("closing_date"), at.get("data_as_of")
        self.attributes = [(name, i) for i, name in enumerate(header) if name and name not in KNOWN]
        self.underwriting = [i for i, name in enumerate(header) if name in UNDERWRITING]

    def parse(self, values: list[str], row: int) -> LoanRow | None:
        if not self._plain(values):
            return None
        ids = self._ids(values)
        gse = False if self.gse is None else _FLAGS.get(values[self.gse].strip().lower())
        status = "active" if self.status is None else _STATUSES.get(values[self.status].strip().lower())
        dates = self._dates(values)
        if ids is None or gse is None or status is None or dates is None:
            return None
        attributes = {name: values[i].strip() for name, i in self.attributes}
        return LoanRow(row, ids[0], ids[1], gse, status, dates[0], dates[1], attributes)

    def _ids(self, values: list[str]) -> tuple[str, str] | None:
        loan_id = values[self.loan_id].strip()
        order_id = values[self.order_id].strip()
        if not loan_id or not order_id or has_controls(loan_id + order_id):
            return None
        return loan_id, order_id

    def _plain(self, values: list[str]) -> bool:
        """As wide as the header, no underwriting value (parse_row normalises them), no NUL or line break."""
        if len(values) != self.width or any(values[i].strip() for i in self.underwriting):
            return False
        joined = "".join(values)
        return "\x00" not in joined and "\n" not in joined and "\r" not in joined

    def _dates(self, values: list[str]) -> tuple[date | None, datetime | None] | None:
        closing: date | None = None
        as_of: datetime | None = None
        try:
            if self.closing is not None and (cell := values[self.closing].strip()):
                closing = date.fromisoformat(cell)
                if not FIRST_LOAN_DAY <= closing <= LAST_LOAN_DAY:
                    return None
            if self.as_of is not None and (cell := values[self.as_of].strip()):
                as_of = datetime.fromisoformat(cell.replace("Z", "+00:00"))
                if as_of.tzinfo is not UTC:
                    as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
                if as_of < FIRST_LOAN_MOMENT:  # as_of.date() < FIRST_LOAN_DAY, without a date per row
                    return None
        except (ValueError, OverflowError):
            return None
        return closing, as_of
