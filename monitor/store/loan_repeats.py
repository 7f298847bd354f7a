"""Every loan_id a loans file repeats, found in one read of the file (issue 24, point 11).

The import itself stops at the first repeat (it holds one batch of loan_ids in memory); this reads the
file's (row, loan_id) pairs into a temporary table instead, so a 1M-row file costs no more memory, and
answers with every repeat at once: how many, the first ones with their rows, and which row to keep
for `loans import --dedupe first|last`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlmodel import Session

from monitor.errors import ImportFileError
from monitor.loans_file import LoanRow

SHOWN = 20
_BATCH = 10_000
_IDS = Table("loan_import_ids", MetaData(), Column("loan_id", String), Column("row_number", Integer))
Rule = Literal["first", "last"]


@dataclass
class Repeats:
    ids: int = 0  # loan_ids on more than one row
    rows: int = 0  # the rows beyond the first of each: what --dedupe drops
    shown: list[tuple[str, list[int]]] = field(default_factory=list)  # the first SHOWN, in file order
    keep: dict[str, int] = field(default_factory=dict)  # loan_id -> the row --dedupe keeps

    def error(self, source: str) -> ImportFileError:
        listed = "; ".join(f"{loan_id!r} rows {', '.join(map(str, rows))}" for loan_id, rows in self.shown)
        more = f" (the first {len(self.shown)} shown)" if self.ids > len(self.shown) else ""
        return ImportFileError(
            source,
            "column 'loan_id'",
            f"{self.ids} loan ids repeat on {self.rows} more rows: {listed}{more}; nothing was imported. "
            "Fix the file, or keep one row of each with --dedupe first|last",
        )

    def kept(self, rows: Iterable[LoanRow]) -> Iterator[LoanRow]:
        """The rows `--dedupe` imports: a repeated loan_id's chosen row only."""
        if not self.keep:  # no --dedupe, or nothing repeats: every row, without a step per row
            return iter(rows)
        return self._kept(rows)

    def _kept(self, rows: Iterable[LoanRow]) -> Iterator[LoanRow]:
        keep = self.keep
        for row in rows:
            chosen = keep.get(row.loan_id)
            if chosen is None or chosen == row.row:
                yield row


def find_repeats(session: Session, rows: Iterable[LoanRow], *, rule: Rule = "first") -> Repeats:
    conn = session.connection()
    tail = " ON COMMIT DROP" if conn.dialect.name == "postgresql" else ""
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {_IDS.name} (loan_id VARCHAR NOT NULL, row_number INTEGER NOT NULL){tail}"
    )
    try:
        batch: list[dict[str, object]] = []
        for row in rows:
            batch.append({"loan_id": row.loan_id, "row_number": row.row})
            if len(batch) >= _BATCH:
                conn.execute(insert(_IDS), batch)
                batch = []
        if batch:
            conn.execute(insert(_IDS), batch)
        return _read(session, rule)
    finally:
        if not tail:
            conn.exec_driver_sql(f"DROP TABLE {_IDS.name}")


def _read(session: Session, rule: Rule) -> Repeats:
    t = _IDS.c
    first_row, last_row, count = func.min(t.row_number), func.max(t.row_number), func.count()
    grouped = select(t.loan_id, first_row, last_row, count).group_by(t.loan_id).having(count > 1)
    found = Repeats()
    for loan_id, first, last, n in session.execute(grouped.order_by(first_row)):
        found.ids += 1
        found.rows += int(n) - 1
        found.keep[loan_id] = int(first if rule == "first" else last)
    shown = list(found.keep)[:SHOWN]
    if shown:
        rows: dict[str, list[int]] = {loan_id: [] for loan_id in shown}
        query = select(t.loan_id, t.row_number).where(t.loan_id.in_(shown)).order_by(t.row_number)
        for loan_id, number in session.execute(query):
            rows[loan_id].append(int(number))
        found.shown = list(rows.items())
    return found
