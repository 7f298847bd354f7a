"""Loans import: a loans file upserted in batches inside the caller's transaction, and a full snapshot's
absent loans closed. Each batch is checked row by row (`loan_import_rows`), then loaded by the
database's own fast path (`loan_import_sqlite`, `loan_import_postgres`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection as SAConnection
from sqlmodel import Session

from monitor.errors import ImportFileError
from monitor.loans_file import LoanRow
from monitor.store.loan_import_pages import indexes_built_after, page_cache
from monitor.store.loan_import_postgres import PostgresLoader
from monitor.store.loan_import_rows import check_storable, repeat
from monitor.store.loan_import_seen import drop_seen, open_seen, stamped_now
from monitor.store.loan_import_sqlite import SqliteLoader
from monitor.store.tables import loan_attribute_table, loan_table

BATCH = 2000
# Postgres loads through COPY, where a batch costs a few round trips whatever its size: bigger is cheaper.
BATCH_POSTGRES = 20_000
# A full snapshot closing more than this share of the active loans is taken for a broken export.
DEFAULT_MAX_CLOSE = 0.10
_L = loan_table.c


@dataclass
class ImportResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0  # a loan field changed (order, GSE, status, closing date, data date)
    unchanged: int = 0  # imported again as it was (its attributes are replaced as the file gives them)
    closed: int = 0


class _Loader(Protocol):
    def __call__(self, batch: dict[str, LoanRow]) -> None: ...
    def finish(self) -> None: ...
    def close(self, error: BaseException | None) -> None: ...


def import_loans(
    session: Session,
    rows: Iterable[LoanRow],
    *,
    now: datetime,
    full_snapshot: bool,
    source: str,
    max_close: float = DEFAULT_MAX_CLOSE,
    force: bool = False,
    not_after: datetime | None = None,
) -> ImportResult:
    """Upsert in batches inside the caller's transaction: a bad row anywhere rolls all of it back.

    An imported `data_as_of` never moves a loan's data date backwards: the job's own refreshes
    are newer than a loan system's nightly export, and going back would spend budget again.
    A full snapshot that is empty, or would close more than `max_close` of the active loans, is
    refused (ImportFileError, everything rolled back) unless `force`. A `data_as_of` later than
    `not_after` is refused: `loans import` passes now + FUTURE_ALLOWANCE (the demo, whose simulated
    clock starts weeks before its file's dates, passes nothing).
    """
    result = ImportResult()
    conn = session.connection()
    existing = _count(conn, None)
    active_before = _count(conn, _L.status == "active") if full_snapshot else 0
    open_seen(conn)
    with page_cache(conn), indexes_built_after(conn, first=existing == 0):
        _load_all(rows, _loader(conn, now=now, source=source), result, not_after=not_after, source=source)
    touched = stamped_now(conn, now)
    drop_seen(conn)
    result.inserted = _count(conn, None) - existing
    result.updated = max(touched - result.inserted, 0)
    result.unchanged = result.rows - result.inserted - result.updated
    if full_snapshot:
        if not force:
            _check_snapshot(
                conn, rows=result.rows, active_before=active_before, now=now, max_close=max_close, source=source
            )
        closed = conn.execute(update(loan_table).where(_absent(now)).values(status="closed", updated_at=now))
        result.closed = closed.rowcount or 0
    return result


def _loader(conn: SAConnection, *, now: datetime, source: str) -> _Loader:
    # With no attribute in the database yet, a batch's loans have none to replace (the file names each
    # loan once): a first import skips the per-batch delete.
    replace = conn.execute(select(loan_attribute_table.c.loan_id).limit(1)).first() is not None
    make = PostgresLoader if conn.dialect.name == "postgresql" else SqliteLoader
    return make(conn, now=now, source=source, replace_attributes=replace)


def _load_all(
    rows: Iterable[LoanRow], load: _Loader, result: ImportResult, *, not_after: datetime | None, source: str
) -> None:
    try:
        _load_batches(rows, load, result, not_after=not_after, source=source)
        load.finish()
    except BaseException as error:
        load.close(error)
        raise
    load.close(None)


def _load_batches(
    rows: Iterable[LoanRow], load: _Loader, result: ImportResult, *, not_after: datetime | None, source: str
) -> None:
    # Only one batch's loan_ids are held here (two on Postgres, one in flight): the file's earlier
    # ones are in the database, so memory stays flat however long the file (issue 16).
    size = BATCH_POSTGRES if isinstance(load, PostgresLoader) else BATCH
    batch: dict[str, LoanRow] = {}
    for row in rows:
        earlier = batch.get(row.loan_id)
        if earlier is not None:
            raise repeat(source, row, earlier.row)
        check_storable(row, not_after=not_after, source=source)
        batch[row.loan_id] = row
        if len(batch) >= size:
            load(batch)
            result.rows += len(batch)
            batch = {}
    if batch:
        load(batch)
        result.rows += len(batch)


def _absent(now: datetime) -> Any:
    """Active loans this import did not touch: the ones a full snapshot closes."""
    return and_(_L.status == "active", _L.imported_at < now)


def _count(conn: SAConnection, where: Any) -> int:
    query = select(func.count()).select_from(loan_table)
    return int(conn.execute(query if where is None else query.where(where)).scalar_one())


def _check_snapshot(
    conn: SAConnection, *, rows: int, active_before: int, now: datetime, max_close: float, source: str
) -> None:
    """An empty or much-shrunk snapshot is far likelier a failed export than a portfolio gone overnight."""
    if rows == 0:
        raise ImportFileError(
            source,
            "",
            f"has no loans: as a --full-snapshot it would close every active loan ({active_before}); "
            "nothing was changed (pass --force if that is meant)",
        )
    closing = _count(conn, _absent(now))
    if closing > max_close * active_before:
        raise ImportFileError(
            source,
            "",
            f"--full-snapshot would close {closing} of {active_before} active loans "
            f"({closing / max(active_before, 1):.0%}), more than --max-close {max_close * 100:g}%; nothing was changed "
            "(check the export is complete, or pass --force or a higher --max-close)",
        )
