"""The loan_ids an import has loaded so far, with their rows: a temporary table of the import's own
transaction (a failed import rolls its creation back too). A repeat of an earlier batch's loan is found
there, and the loans the import touched are counted by it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, MetaData, Table, func, select
from sqlalchemy.engine import Connection as SAConnection

from monitor.errors import StorageError
from monitor.loans_file import LoanRow
from monitor.store.loan_import_rows import repeat
from monitor.store.tables import loan_table

SEEN = "loan_import_seen"
_SEEN_TABLE = Table(SEEN, MetaData(), Column("loan_id"), Column("row_number"))


def open_seen(conn: SAConnection) -> None:
    # WITHOUT ROWID: SQLite keeps one B-tree keyed by loan_id instead of a table and an index.
    tail = " ON COMMIT DROP" if conn.dialect.name == "postgresql" else " WITHOUT ROWID"
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {SEEN} (loan_id VARCHAR PRIMARY KEY, row_number INTEGER NOT NULL){tail}"
    )
    conn.exec_driver_sql(f"DELETE FROM {SEEN}")


def drop_seen(conn: SAConnection) -> None:
    conn.exec_driver_sql(f"DROP TABLE {SEEN}")


def refuse_repeat(conn: SAConnection, batch: dict[str, LoanRow], source: str) -> None:
    """Name the batch's first row (in file order) whose loan_id an earlier batch had."""
    seen = _SEEN_TABLE.c
    found = conn.execute(select(seen.loan_id, seen.row_number).where(seen.loan_id.in_(list(batch))))
    earlier = {loan_id: number for loan_id, number in found if number != batch[loan_id].row}
    if earlier:
        row = min((batch[i] for i in earlier), key=lambda r: r.row)
        raise repeat(source, row, earlier[row.loan_id])
    raise StorageError("loans import: a loan_id was skipped as seen, yet no earlier row has it")


def stamped_now(conn: SAConnection, now: datetime) -> int:
    """This import's loans whose `updated_at` it set: the new ones and those a field of which changed."""
    seen, loan = _SEEN_TABLE.c, loan_table.c
    q = select(func.count()).select_from(loan_table.join(_SEEN_TABLE, seen.loan_id == loan.loan_id))
    return int(conn.execute(q.where(loan.updated_at == now)).scalar_one())
