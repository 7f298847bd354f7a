"""A loans import's batches on SQLite, through the driver's own executemany: SQLAlchemy's per-parameter
processing cost more than the database's inserts. The SQL is compiled once from the same statements as
Postgres's, and values are converted as SQLAlchemy's types would."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.engine import Connection as SAConnection

from monitor.loans_file import LoanRow
from monitor.store.db import upsert_insert
from monitor.store.loan_attribute_values import value_and_shown
from monitor.store.loan_import_seen import SEEN, refuse_repeat
from monitor.store.loan_upsert import COPY_COLUMNS, upsert_set
from monitor.store.tables import loan_table
from monitor.store.types import sqlite_time


class SqliteLoader:
    """Loads each batch as it is given, in the caller's thread."""

    def __init__(self, conn: SAConnection, *, now: datetime, source: str, replace_attributes: bool) -> None:
        self.conn, self.source = conn, source
        self.replace_attributes = replace_attributes
        stmt = upsert_insert(conn, loan_table)
        stmt = stmt.on_conflict_do_update(index_elements=[loan_table.c.loan_id], set_=upsert_set(stmt))
        compiled = stmt.values(dict.fromkeys(COPY_COLUMNS)).compile(dialect=conn.dialect)
        assert compiled.positiontup == list(COPY_COLUMNS), compiled.positiontup
        self.upsert = compiled.string
        self.stamp = sqlite_time(now)

    def __call__(self, batch: dict[str, LoanRow]) -> None:
        self._mark_seen(batch)
        rows = batch.values()
        self._upsert(rows)
        self._attributes(rows)

    def _mark_seen(self, batch: dict[str, LoanRow]) -> None:
        # A loan_id an earlier batch had is the one row the insert skips: only then look for which.
        added = self.conn.exec_driver_sql(
            f"INSERT INTO {SEEN} (loan_id, row_number) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(r.loan_id, r.row) for r in batch.values()],
        ).rowcount
        if added != len(batch):
            refuse_repeat(self.conn, batch, self.source)

    def _upsert(self, rows: Collection[LoanRow]) -> None:
        stamp = self.stamp
        self.conn.exec_driver_sql(
            self.upsert,
            [
                (
                    r.loan_id,
                    r.order_id,
                    r.gse,
                    r.status,
                    None if r.closing_date is None else r.closing_date.isoformat(),
                    None if r.data_as_of is None else sqlite_time(r.data_as_of),
                    stamp,
                    stamp,
                )
                for r in rows
            ],
        )

    def _attributes(self, rows: Collection[LoanRow]) -> None:
        run = self.conn.exec_driver_sql
        if self.replace_attributes:
            run("DELETE FROM loan_attribute WHERE loan_id = ?", [(r.loan_id,) for r in rows])
        attributes = [(r.loan_id, k, *value_and_shown(v)) for r in rows for k, v in r.attributes.items() if v != ""]
        if attributes:
            run('INSERT INTO loan_attribute (loan_id, "key", value, shown) VALUES (?, ?, ?, ?)', attributes)

    def finish(self) -> None:
        """Every batch is loaded when its call returns: nothing is in flight."""

    def close(self, error: BaseException | None) -> None:
        """Nothing to stop: the connection is the caller's throughout."""
