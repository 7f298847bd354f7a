"""A loans import's batches on Postgres: each is COPYed into a staging table, then checked for repeats
and upserted in set-based SQL (far fewer round trips than VALUES lists), in a worker thread while the
file's next batch is read."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime

from sqlalchemy import Column, MetaData, Table, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection as SAConnection

from monitor.errors import StorageError
from monitor.loans_file import LoanRow
from monitor.store.loan_copy_text import Staged
from monitor.store.loan_import_seen import SEEN, refuse_repeat
from monitor.store.loan_upsert import COPY_COLUMNS, upsert_set
from monitor.store.tables import loan_table

# A batch is COPYed here with its row numbers, then checked for repeats and upserted in SQL.
_STAGING = Table("loan_import", MetaData(), Column("row_number"), *(Column(c) for c in COPY_COLUMNS[:6]))


class PostgresLoader:
    """Loads a batch in a worker thread while the caller reads the next one."""

    def __init__(self, conn: SAConnection, *, now: datetime, source: str, replace_attributes: bool) -> None:
        self.conn, self.now, self.source = conn, now, source
        self.replace_attributes = replace_attributes
        self.pending: Future[None] | None = None
        self.worker: ThreadPoolExecutor | None = None

    def __call__(self, batch: dict[str, LoanRow]) -> None:
        # The server's inserts are most of an import (a 1M-loan file: ~25 s of ~30), and the wait for the
        # server frees the GIL. (Not on SQLite: its executemany takes the GIL back after every row, each
        # time behind the reading thread.) The connection is the worker's alone until `finish`.
        self.finish()
        if self.worker is None:
            self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loans-import")
        staged = Staged.of(batch.values())
        self.pending = self.worker.submit(
            _flush, self.conn, batch, staged, self.now, self.source, self.replace_attributes
        )

    def finish(self) -> None:
        """Wait for the batch in flight; its failure (a repeat, a database error) is raised here."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def close(self, error: BaseException | None) -> None:
        """Stop the worker before the caller touches the connection (or rolls back).

        A batch in flight was read before the row that raised `error`: the sequential import would
        have loaded it, and raised its failure, first, so that failure wins."""
        try:
            if error is not None and self.pending is not None:
                wait([self.pending])
                failure = self.pending.exception()
                self.pending = None
                if failure is not None:
                    raise failure from None
        finally:
            if self.worker is not None:
                self.worker.shutdown(wait=True)


def _flush(
    conn: SAConnection, batch: dict[str, LoanRow], staged: Staged, now: datetime, source: str, replace: bool
) -> None:
    import psycopg

    try:
        _copy_upsert(conn, batch, staged, now, source, replace)
    except psycopg.Error as exc:
        # The raw cursor's errors are psycopg's, not SQLAlchemy's: say them as every other database error.
        raise StorageError(f"database error: {exc}") from exc


def _copy_upsert(
    conn: SAConnection, batch: dict[str, LoanRow], staged: Staged, now: datetime, source: str, replace: bool
) -> None:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(
            # The loan's own column types, without its NOT NULLs (the two timestamps are not staged).
            "CREATE TEMP TABLE IF NOT EXISTS loan_import ON COMMIT DROP AS SELECT 0 AS row_number, loan_id, "
            "order_id, gse, status, closing_date, data_as_of FROM loan WITH NO DATA; TRUNCATE loan_import"
        )
        with cur.copy(
            "COPY loan_import (row_number, loan_id, order_id, gse, status, closing_date, data_as_of) FROM STDIN"
        ) as copy:
            copy.write(staged.loans)
        # A loan_id an earlier batch had is the one row the insert skips: only then look for which.
        cur.execute(
            f"INSERT INTO {SEEN} (loan_id, row_number) SELECT loan_id, row_number FROM loan_import "
            "ON CONFLICT DO NOTHING"
        )
        if cur.rowcount != len(batch):
            refuse_repeat(conn, batch, source)
        columns = _STAGING.c
        stamp = literal(now, loan_table.c.imported_at.type)
        rows = select(*(columns[c] for c in COPY_COLUMNS[:6]), stamp, stamp)
        stmt = postgresql.insert(loan_table).from_select(list(COPY_COLUMNS), rows)
        conn.execute(stmt.on_conflict_do_update(index_elements=[loan_table.c.loan_id], set_=upsert_set(stmt)))
        if replace:
            # = ANY of one array: an index lookup per loan, where a join to the unanalysed staging
            # table could scan every loan's attributes once per batch.
            cur.execute("DELETE FROM loan_attribute WHERE loan_id = ANY(%s)", (list(batch),))
        if staged.attributes:
            with cur.copy("COPY loan_attribute (loan_id, key, value, shown) FROM STDIN") as copy:
                copy.write(staged.attributes)
