"""Loans: bulk import (upsert) and the set-based selection of stale loans."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    Column,
    MetaData,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection as SAConnection
from sqlmodel import Session

from monitor.core.matching import normalise
from monitor.core.selection import Selection
from monitor.core.staleness import pre_closing_windows, start_of_day_utc
from monitor.errors import ImportFileError, StorageError
from monitor.loans_file import LoanRow, shown_column
from monitor.store import usage
from monitor.store.db import upsert_insert
from monitor.store.tables import (
    connection_table,
    loan_attribute_table,
    loan_claim_table,
    loan_connection_table,
    loan_table,
    reservation_table,
    run_table,
)

BATCH = 2000
# Postgres loads through COPY, where a batch costs a few round trips whatever its size: bigger is cheaper.
BATCH_POSTGRES = 20_000
_L = loan_table.c
_COLUMNS = {"gse": _L.gse, "status": _L.status, "loan_id": _L.loan_id, "order_id": _L.order_id}


@dataclass
class ImportResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0  # a loan field changed (order, GSE, status, closing date, data date)
    unchanged: int = 0  # imported again as it was (its attributes are replaced as the file gives them)
    closed: int = 0


# A full snapshot closing more than this share of the active loans is taken for a broken export.
DEFAULT_MAX_CLOSE = 0.10
# A data date is when Truv collected the data, so it cannot be in the future; a day covers a loan
# system's clock or time-zone slip. Past that it would stop refreshes for good: the data date never
# moves backwards, so 9999-12-31 could never be corrected by a later import.
FUTURE_ALLOWANCE = timedelta(days=1)


def _width(column: Any) -> int:
    length = getattr(column.type, "length", None)  # SQLModel's string type passes it on from its String
    assert isinstance(length, int), column
    return length


_LOAN_WIDTHS = {name: _width(_L[name]) for name in ("loan_id", "order_id")}
_KEY_WIDTH = _width(loan_attribute_table.c.key)
_VALUE_WIDTH = _width(loan_attribute_table.c.value)
_LOAN_ID_WIDTH, _ORDER_ID_WIDTH = _LOAN_WIDTHS["loan_id"], _LOAN_WIDTHS["order_id"]
# A value this short fits once normalised: lowercasing maps a character to at most three (Unicode's
# full case mappings), and normalising never adds anything else.
_SURE_VALUE = _VALUE_WIDTH // 3


def _insert(conn: SAConnection) -> Any:
    return upsert_insert(conn, loan_table)


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
    existing = session.execute(select(func.count()).select_from(loan_table)).scalar_one()
    active_before = _count(conn, _L.status == "active") if full_snapshot else 0
    _open_seen(conn)
    size = BATCH_POSTGRES if conn.dialect.name == "postgresql" else BATCH
    # With no attribute in the database yet, a batch's loans have none to replace (the file names each
    # loan once): a first import skips the per-batch delete.
    load = _Loader(conn, now=now, source=source, replace_attributes=_has_attributes(conn))
    with _page_cache(conn), _indexes_built_after(conn, first=existing == 0):
        try:
            _load_all(rows, load, result, size=size, not_after=not_after, source=source)
            load.finish()
        except BaseException as error:
            load.close(error)
            raise
        load.close(None)
    touched = _stamped_now(conn, now)
    conn.exec_driver_sql(f"DROP TABLE {_SEEN}")
    after = session.execute(select(func.count()).select_from(loan_table)).scalar_one()
    result.inserted = after - existing
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


def _load_all(
    rows: Iterable[LoanRow], load: _Loader, result: ImportResult, *, size: int, not_after: datetime | None, source: str
) -> None:
    # Only one batch's loan_ids are held here (two on Postgres, one in flight): the file's earlier
    # ones are in the database, so memory stays flat however long the file (issue 16).
    batch: dict[str, LoanRow] = {}
    for row in rows:
        earlier = batch.get(row.loan_id)
        if earlier is not None:
            raise _repeat(source, row, earlier.row)
        _check_storable(row, not_after=not_after, source=source)
        batch[row.loan_id] = row
        if len(batch) >= size:
            load(batch)
            result.rows += len(batch)
            batch = {}
    if batch:
        load(batch)
        result.rows += len(batch)


class RepeatedLoanId(ImportFileError):
    """A loan_id on two rows: the import stops here; `store.loan_repeats` then finds every repeat."""


def _repeat(source: str, row: LoanRow, first: int) -> ImportFileError:
    return RepeatedLoanId(source, f"row {row.row}, column 'loan_id'", f"loan {row.loan_id!r} repeats row {first}")


# The loan_ids this import has loaded so far, with their rows: where an earlier batch's repeat is found.
_SEEN = "loan_import_seen"


def _open_seen(conn: SAConnection) -> None:
    """A temporary table of this transaction (a failed import rolls its creation back too)."""
    # WITHOUT ROWID: SQLite keeps one B-tree keyed by loan_id instead of a table and an index.
    tail = " ON COMMIT DROP" if conn.dialect.name == "postgresql" else " WITHOUT ROWID"
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_SEEN} (loan_id VARCHAR PRIMARY KEY, row_number INTEGER NOT NULL){tail}"
    )
    conn.exec_driver_sql(f"DELETE FROM {_SEEN}")


_SEEN_TABLE = Table(_SEEN, MetaData(), Column("loan_id"), Column("row_number"))


# SQLite's page cache during an import, in KiB: 64 MiB would save another few seconds over 1M loans
# but take the import past its 150 MB target; 32 MiB stays near 130 MB.
IMPORT_CACHE_KIB = 32 * 1024


@contextmanager
def _page_cache(conn: SAConnection) -> Iterator[None]:
    """A larger SQLite page cache for the import, the connection's own back after it.

    An index in data_as_of order takes each loan at a random place: with SQLite's default 2 MB the
    pages are written to the WAL, evicted and read back again thousands of times over a 1M-loan
    file. A cache is memory only: what is committed, and when, is unchanged.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


# The page cache while a first import builds its indexes, in KiB (see `_indexes_built_after`).
INDEX_BUILD_CACHE_KIB = 8 * 1024
# The loans' own tables, whose other indexes a first import builds once it has loaded them.
_INDEXED = ("loan", "loan_attribute")


@contextmanager
def _indexes_built_after(conn: SAConnection, *, first: bool) -> Iterator[None]:
    """On SQLite, a first import (no loan yet) drops the loan tables' secondary indexes and builds them
    again after the last batch, each in one sorted pass.

    Kept, each index takes every loan at a random place (a data date, a closing date), a page read and
    written again per loan once the indexes outgrow the page cache; built at the end, each is one sort. The
    drop is part of the import's transaction: a failed or killed import rolls it back with the
    loans, and readers keep the indexes of the last commit. An import over existing loans keeps the
    indexes: rebuilding them over the whole book would cost more than a nightly file's updates.
    """
    if conn.dialect.name != "sqlite" or not first:
        yield
        return
    names = ", ".join(f"'{t}'" for t in _INDEXED)
    found = conn.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({names}) AND sql IS NOT NULL"
    ).all()
    for name, _ in found:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    # A build sorts in memory up to the page cache's size, on top of the cache: a smaller cache keeps the
    # import under its 150 MB (the sort spills to a temporary file instead; `_page_cache` restores it).
    conn.exec_driver_sql(f"PRAGMA cache_size = {-INDEX_BUILD_CACHE_KIB}")
    for _, sql in found:
        conn.exec_driver_sql(sql)


def _has_attributes(conn: SAConnection) -> bool:
    return conn.execute(select(loan_attribute_table.c.loan_id).limit(1)).first() is not None


class _Loader:
    """Loads one batch at a time through the driver's own executemany (SQLite) or COPY (Postgres):
    SQLAlchemy's per-parameter processing cost more than the database's inserts. The SQL is
    compiled once from the same statements, and values are converted as SQLAlchemy's types would."""

    def __init__(self, conn: SAConnection, *, now: datetime, source: str, replace_attributes: bool) -> None:
        self.conn, self.now, self.source = conn, now, source
        self.replace_attributes = replace_attributes
        self.postgres = conn.dialect.name == "postgresql"
        if not self.postgres:
            stmt = _insert(conn)
            stmt = stmt.on_conflict_do_update(index_elements=[_L.loan_id], set_=_upsert_set(stmt))
            compiled = stmt.values(dict.fromkeys(_COPY_COLUMNS)).compile(dialect=conn.dialect)
            assert compiled.positiontup == list(_COPY_COLUMNS), compiled.positiontup
            self.upsert = compiled.string
            self.stamp = _sqlite_time(now)
        self.pending: Future[None] | None = None
        self.worker: ThreadPoolExecutor | None = None

    def __call__(self, batch: dict[str, LoanRow]) -> None:
        if not self.postgres:
            self._sqlite(batch)
            return
        # Postgres works on this batch while the file's next one is read: the server's inserts are most
        # of an import (a 1M-loan file: ~25 s of ~30), and the wait for the server frees the GIL.
        # (Not on SQLite: its executemany takes the GIL back after every row, each time behind the
        # reading thread.) The connection is the worker's alone until `finish`.
        self.finish()
        if self.worker is None:
            self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loans-import")
        staged = _Staged.of(batch.values())
        self.pending = self.worker.submit(
            _flush_postgres, self.conn, batch, staged, self.now, self.source, self.replace_attributes
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

    def _sqlite(self, batch: dict[str, LoanRow]) -> None:
        run = self.conn.exec_driver_sql
        rows = batch.values()
        # A loan_id an earlier batch had is the one row the insert skips: only then look for which.
        added = run(
            f"INSERT INTO {_SEEN} (loan_id, row_number) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(r.loan_id, r.row) for r in rows],
        ).rowcount
        if added != len(batch):
            _refuse_repeat(self.conn, batch, self.source)
        stamp = self.stamp
        run(
            self.upsert,
            [
                (
                    r.loan_id,
                    r.order_id,
                    r.gse,
                    r.status,
                    None if r.closing_date is None else r.closing_date.isoformat(),
                    None if r.data_as_of is None else _sqlite_time(r.data_as_of),
                    stamp,
                    stamp,
                )
                for r in rows
            ],
        )
        if self.replace_attributes:
            run("DELETE FROM loan_attribute WHERE loan_id = ?", [(r.loan_id,) for r in rows])
        attributes = [(r.loan_id, k, *_value_and_shown(v)) for r in rows for k, v in r.attributes.items() if v != ""]
        if attributes:
            run('INSERT INTO loan_attribute (loan_id, "key", value, shown) VALUES (?, ?, ?, ?)', attributes)


def _sqlite_time(value: datetime) -> str:
    """As SQLAlchemy stores a UTCDateTime in SQLite: UTC, naive, always with microseconds."""
    if value.tzinfo is UTC:  # every data date a loans file gives (loans_file reads them into UTC)
        return value.isoformat(" ", "microseconds")[:26]  # without its "+00:00"
    if value.tzinfo is None:
        raise ValueError("refusing to store a naive datetime")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _normalised(value: str) -> str:
    return value.strip().lower() if type(value) is str else normalise(value)


def _value_and_shown(value: str) -> tuple[str, str | None]:
    """The lower-case value matching reads, and the file's spelling when it differs (`Austin`)."""
    matched = _normalised(value)
    spelt = value.strip() if type(value) is str else matched
    return matched, (spelt if spelt != matched else None)


def _refuse_repeat(conn: SAConnection, batch: dict[str, LoanRow], source: str) -> None:
    """Name the batch's first row (in file order) whose loan_id an earlier batch had."""
    seen = _SEEN_TABLE.c
    found = conn.execute(select(seen.loan_id, seen.row_number).where(seen.loan_id.in_(list(batch))))
    earlier = {loan_id: number for loan_id, number in found if number != batch[loan_id].row}
    if earlier:
        row = min((batch[i] for i in earlier), key=lambda r: r.row)
        raise _repeat(source, row, earlier[row.loan_id])
    raise StorageError("loans import: a loan_id was skipped as seen, yet no earlier row has it")


def _stamped_now(conn: SAConnection, now: datetime) -> int:
    """This import's loans whose `updated_at` it set: the new ones and those a field of which changed."""
    seen = _SEEN_TABLE.c
    q = select(func.count()).select_from(loan_table.join(_SEEN_TABLE, seen.loan_id == _L.loan_id))
    return int(conn.execute(q.where(_L.updated_at == now)).scalar_one())


def _absent(now: datetime) -> Any:
    """Active loans this import did not touch: the ones a full snapshot closes."""
    return and_(_L.status == "active", _L.imported_at < now)


def _count(conn: SAConnection, where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(loan_table).where(where)).scalar_one())


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


def _check_storable(row: LoanRow, *, not_after: datetime | None, source: str) -> None:
    """Refuse what the columns cannot hold (SQLite would keep it, Postgres would fail mid-import)
    and a data date in the future, naming the row and column."""

    attributes = row.attributes
    if (
        len(row.loan_id) <= _LOAN_ID_WIDTH
        and len(row.order_id) <= _ORDER_ID_WIDTH
        and (not_after is None or row.data_as_of is None or row.data_as_of <= not_after)
        and (
            not attributes
            or (max(map(len, attributes)) <= _KEY_WIDTH and max(map(len, attributes.values())) <= _SURE_VALUE)
        )
    ):
        return  # nearly every row: the checks below say which column is wrong, at a price per row

    def refuse(column: str, message: str) -> ImportFileError:
        return ImportFileError(source, f"row {row.row}, column {shown_column(column)}", message)

    for name, width in _LOAN_WIDTHS.items():
        if len(value := getattr(row, name)) > width:
            raise refuse(name, f"expected at most {width} characters, got {len(value)}")
    for key, value in row.attributes.items():
        if len(key) > _KEY_WIDTH:
            raise refuse(key, f"expected a column name of at most {_KEY_WIDTH} characters, got {len(key)}")
        if len(_normalised(value)) > _VALUE_WIDTH:
            raise refuse(key, f"expected at most {_VALUE_WIDTH} characters, got {len(_normalised(value))}")
    if not_after is not None and row.data_as_of is not None and row.data_as_of > not_after:
        raise refuse(
            "data_as_of",
            f"expected a time no later than {not_after:%Y-%m-%dT%H:%M}Z (data cannot be collected in the future), "
            f"got {row.data_as_of.isoformat()!r}",
        )


_COPY_COLUMNS = ("loan_id", "order_id", "gse", "status", "closing_date", "data_as_of", "imported_at", "updated_at")
# Postgres: a batch is COPYed here with its row numbers, then checked for repeats and upserted in SQL.
_STAGING = Table("loan_import", MetaData(), Column("row_number"), *(Column(c) for c in _COPY_COLUMNS[:6]))


def _upsert_set(stmt: Any) -> dict[str, Any]:
    table = loan_table
    ex = stmt.excluded
    changed_order = ex.order_id != table.c.order_id
    return {
        "order_id": ex.order_id,
        "gse": ex.gse,
        "status": ex.status,
        "closing_date": ex.closing_date,
        "data_as_of": case(
            (changed_order, ex.data_as_of),
            (table.c.data_as_of.is_(None), ex.data_as_of),
            (ex.data_as_of > table.c.data_as_of, ex.data_as_of),
            else_=table.c.data_as_of,
        ),
        # A new order is a new start: what was learned from the old one no longer applies.
        **{
            name: case((changed_order, None), else_=table.c[name])
            for name in (
                "base_order_id",
                "original_order_id",
                "details_fetched_at",
                "data_as_of_employers",
                "data_as_of_accounts",
                "data_as_of_insurance",
                "gse_window_start",
                "hold",
                "hold_reason",
                "hold_since",
            )
        },
        "imported_at": ex.imported_at,
        # Only a change moves updated_at: an import counts its unchanged loans by it (_stamped_now).
        "updated_at": case((_changed(ex, changed_order), ex.updated_at), else_=table.c.updated_at),
    }


def _changed(ex: Any, changed_order: Any) -> Any:
    """Whether the file's row changes a loan field, its data date as the upsert will set it included."""
    t = loan_table.c
    newer_date = or_(t.data_as_of.is_(None), ex.data_as_of > t.data_as_of)
    return or_(
        changed_order,
        ex.gse != t.gse,
        ex.status != t.status,
        ex.closing_date.is_distinct_from(t.closing_date),
        and_(ex.data_as_of.is_not(None), newer_date, ex.data_as_of.is_distinct_from(t.data_as_of)),
    )


def _flush_postgres(
    conn: SAConnection, batch: dict[str, LoanRow], staged: _Staged, now: datetime, source: str, replace: bool
) -> None:
    """COPY into a staging table, then set-based SQL: far fewer round trips than VALUES lists."""
    import psycopg

    try:
        _copy_upsert(conn, batch, staged, now, source, replace)
    except psycopg.Error as exc:
        # The raw cursor's errors are psycopg's, not SQLAlchemy's: say them as every other database error.
        raise StorageError(f"database error: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Staged:
    """A batch in COPY's text format: the loans (with their row numbers) and their attributes."""

    loans: str
    attributes: str

    @classmethod
    def of(cls, batch: Iterable[LoanRow]) -> _Staged:
        # Made by the thread reading the file: the worker then sends it whole, taking the GIL back a
        # few times per batch instead of once per row (each time behind the reading thread).
        loans: list[str] = []
        attributes: list[str] = []
        for r in batch:
            closing = r.closing_date.isoformat() if r.closing_date is not None else "\\N"
            as_of = r.data_as_of.isoformat() if r.data_as_of is not None else "\\N"
            loan_id = _copy_text(r.loan_id)
            gse = "t" if r.gse else "f"
            loans.append(
                f"{r.row}\t{loan_id}\t{_copy_text(r.order_id)}\t{gse}\t{_copy_text(r.status)}\t{closing}\t{as_of}\n"
            )
            for k, v in r.attributes.items():
                if v != "":
                    matched, spelt = _value_and_shown(v)
                    shown = "\\N" if spelt is None else _copy_text(spelt)
                    attributes.append(f"{loan_id}\t{_copy_text(k)}\t{_copy_text(matched)}\t{shown}\n")
        return cls("".join(loans), "".join(attributes))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A value as COPY's text format reads it back unchanged."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _copy_upsert(
    conn: SAConnection, batch: dict[str, LoanRow], staged: _Staged, now: datetime, source: str, replace: bool
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
            f"INSERT INTO {_SEEN} (loan_id, row_number) SELECT loan_id, row_number FROM loan_import "
            "ON CONFLICT DO NOTHING"
        )
        if cur.rowcount != len(batch):
            _refuse_repeat(conn, batch, source)
        columns = _STAGING.c
        stamp = literal(now, loan_table.c.imported_at.type)
        rows = select(*(columns[c] for c in _COPY_COLUMNS[:6]), stamp, stamp)
        stmt = postgresql.insert(loan_table).from_select(list(_COPY_COLUMNS), rows)
        conn.execute(stmt.on_conflict_do_update(index_elements=[_L.loan_id], set_=_upsert_set(stmt)))
        if replace:
            # = ANY of one array: an index lookup per loan, where a join to the unanalysed staging
            # table could scan every loan's attributes once per batch.
            cur.execute("DELETE FROM loan_attribute WHERE loan_id = ANY(%s)", (list(batch),))
        if staged.attributes:
            with cur.copy("COPY loan_attribute (loan_id, key, value, shown) FROM STDIN") as copy:
                copy.write(staged.attributes)


@dataclass(frozen=True, slots=True)
class Candidate:
    loan_id: str
    order_id: str
    base_order_id: str | None
    gse: bool
    closing_date: date | None
    data_as_of: datetime | None
    details_fetched_at: datetime | None


def _match_clause(match: Mapping[str, Any]) -> Any:
    clauses: list[Any] = []
    for key, wanted in match.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        values = [normalise(o) for o in options]
        if key == "gse":
            # As core.matching reads it: the text "true" or "false" (jobs.yaml only lets booleans through).
            flags = {v == "true" for v in values if v in ("true", "false")}
            clauses.append(_L.gse.in_(sorted(flags)))
        elif key in _COLUMNS:
            clauses.append(func.lower(_COLUMNS[key]).in_(values))
        else:
            a = loan_attribute_table.c
            clauses.append(exists().where(a.loan_id == _L.loan_id, a.key == key, a.value.in_(values)))
    return and_(true(), *clauses)


# SQL for a policy's `match` (mirrors monitor.core.matching.matches), for the other store modules.
match_clause = _match_clause


_SCOPE_DATES = {
    "employer": _L.data_as_of_employers,
    "account": _L.data_as_of_accounts,
    "insurance": _L.data_as_of_insurance,
}


def data_date(scope: str) -> Any:
    """SQL for a loan's data date for one product scope (DESIGN.md rules 10, 11).

    Before its order has been read: the imported `data_as_of`; after: the scope's own date.
    """
    return case((_L.details_fetched_at.is_(None), _L.data_as_of), else_=_SCOPE_DATES[scope])


def unknown_clause() -> Any:
    """Loans whose data date nobody knows yet: the order must be read before anything is decided."""
    return and_(_L.details_fetched_at.is_(None), _L.data_as_of.is_(None))


def stale_clause(
    *, max_age_cutoff: datetime, pre_closing_days: int | None, today: date, scope: str = "employer"
) -> Any:
    """SQL for DESIGN's staleness rule; mirrors monitor.core.staleness.assess.

    A loan whose date is unknown only because its order was never read is not stale (rule 11):
    see `unknown_clause`. Once read, a product with a connection that never completed is.
    """
    when = data_date(scope)
    # One comparison against a per-row limit, not one OR-branch per open window: each branch repeated
    # `when`'s CASE, and a plan over 1M loans spent most of its scan evaluating them. A loan closing on
    # a window's date is stale before the later of the window's start and the max_age cutoff.
    later: dict[date, datetime] = {}
    if pre_closing_days:
        for closing, start in pre_closing_windows(today, pre_closing_days):
            limit = max(start_of_day_utc(start), max_age_cutoff, later.get(closing, max_age_cutoff))
            if limit > max_age_cutoff:
                later[closing] = limit
    typed = _L.data_as_of.type
    cutoff = literal(max_age_cutoff, typed)
    if not later:
        return or_(and_(_L.details_fetched_at.is_not(None), when.is_(None)), when < cutoff)
    before = case({d: literal(x, typed) for d, x in later.items()}, value=_L.closing_date, else_=cutoff)
    # The plain cutoff first, then the window's dates as one range: most loans are fresh and close
    # outside it, and never reach the per-date CASE.
    windows = _L.closing_date.between(min(later), max(later))
    return or_(and_(_L.details_fetched_at.is_not(None), when.is_(None)), when < cutoff, and_(windows, when < before))


def stale_of(sel: Selection, today: date) -> Any:
    """`stale_clause` for a policy's selection."""
    return stale_clause(
        max_age_cutoff=sel.max_age_cutoff, pre_closing_days=sel.pre_closing_days, today=today, scope=sel.scope
    )


def _workable(sel: Selection, today: date) -> Any:
    """What a pass looks at: stale loans, and loans whose order must first be read."""
    return or_(stale_of(sel, today), unknown_clause())


def _in_flight() -> Any:
    # The in-flight states are the ledger's (store.usage): one list for the pass, the views and selection.
    return exists().where(reservation_table.c.loan_id == _L.loan_id, usage.in_flight())


def select_stale(
    session: Session,
    sel: Selection,
    *,
    now: datetime,
    limit: int | None,
    claim: Claim | None = None,
) -> list[Candidate]:
    """Active, matching, stale (or not yet read) loans with nothing in flight, no backoff, no hold.

    Ordered by closing date (soonest first, none last), then oldest data (never verified first).
    With `claim`, only loans no live pass has claimed, and the ones returned are claimed in the
    caller's transaction: on Postgres the rows are locked `FOR UPDATE SKIP LOCKED`, so instances
    selecting at the same moment take different loans; on SQLite the write transaction already
    excludes a second selector.
    """
    query = _stale_query(session, sel, now=now)
    if claim is not None:
        query = query.where(not_(_claimed(now)))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=loan_table)
    if limit is not None:
        query = query.limit(limit)
    found = [Candidate(*row) for row in session.execute(query)]
    if claim is not None and found:
        won = _claim(session, [x.loan_id for x in found], claim, now)
        found = [x for x in found if x.loan_id in won]
    return found


# Rows a streamed selection fetches at a time: a server-side cursor's page on Postgres.
STREAM_PAGE = 1000


def stream_stale(session: Session, sel: Selection, *, now: datetime) -> Iterator[Candidate]:
    """`select_stale`'s loans without a limit or a claim, read as they are consumed (a server-side
    cursor on Postgres): 500k candidates of a 5M-loan book are not held at once (issue 26)."""
    query = _stale_query(session, sel, now=now)
    result = session.connection().execution_options(yield_per=STREAM_PAGE).execute(query)
    for row in result:
        yield Candidate(*row)


def _stale_query(session: Session, sel: Selection, *, now: datetime) -> Any:
    """The selectable loans as Candidates, in the order a pass works them."""
    return (
        select(
            _L.loan_id,
            _L.order_id,
            _L.base_order_id,
            _L.gse,
            _L.closing_date,
            data_date(sel.scope),
            _L.details_fetched_at,
        )
        .where(selectable(session, sel, now=now))
        .order_by(
            _L.closing_date.is_(None),
            _L.closing_date,
            data_date(sel.scope).is_not(None),
            data_date(sel.scope),
            _L.loan_id,
        )
    )


def active(session: Session) -> Any:
    """Active loans, read on SQLite without an index.

    SQLite keeps no statistics here, so for `status = 'active'` it picks an `ix_loan_status_*` index and
    then fetches each row in that index's order: a random read per loan, about three times the cost of
    reading the table in order when most loans are active (a plan over 1M loans). `status || ''` tests
    the same thing and leaves SQLite the table scan, or the primary key when loan ids are given.
    Postgres weighs its statistics and needs no help.
    """
    if session.get_bind().dialect.name == "sqlite":
        return (_L.status + "") == "active"
    return _L.status == "active"


def selectable(session: Session, sel: Selection, *, now: datetime) -> Any:
    """What a pass selects, claims aside: active, matching, stale (or not yet read), no hold, nothing
    in flight, no backoff. `select_stale` and `count_selectable` share it, so a count is a selection."""
    return and_(
        active(session),
        _L.hold.is_(None),
        _match_clause(sel.match),
        _workable(sel, now.date()),
        not_(_in_flight()),
        or_(_L.next_attempt_at.is_(None), _L.next_attempt_at <= now),
    )


def _claimed(now: datetime) -> Any:
    c = loan_claim_table.c
    return exists().where(c.loan_id == _L.loan_id, c.expires_at > now)


def count_selectable(
    session: Session,
    sel: Selection,
    *,
    now: datetime,
    unclaimed: bool = False,
    among: Collection[str] | None = None,
) -> int:
    """How many loans `select_stale` would return without a limit; with `unclaimed`, only those no
    live pass has claimed (what a pass that stopped early left unread); with `among`, only those."""
    where = selectable(session, sel, now=now)
    if unclaimed:
        where = and_(where, not_(_claimed(now)))
    if among is not None:
        where = and_(where, _L.loan_id.in_(list(among)))
    return int(session.execute(select(func.count()).select_from(loan_table).where(where)).scalar_one())


@dataclass(frozen=True, slots=True)
class Claim:
    run_id: str
    holder: str
    ttl: timedelta


def _claim(session: Session, loan_ids: list[str], claim: Claim, now: datetime) -> set[str]:
    """Insert claims, taking over only expired ones; the loans returned are this pass's alone.

    The row lock above is not the guarantee on Postgres: a row freed by a committing instance
    is re-checked without re-running the NOT EXISTS, so the conditional upsert decides.
    """
    t = loan_claim_table
    insert = partial(upsert_insert, session)
    won: set[str] = set()
    for loan_id in loan_ids:
        stmt = insert(t).values(loan_id=loan_id, run_id=claim.run_id, holder=claim.holder, expires_at=now + claim.ttl)
        row = session.execute(
            stmt.on_conflict_do_update(
                index_elements=["loan_id"],
                set_={
                    "run_id": stmt.excluded.run_id,
                    "holder": stmt.excluded.holder,
                    "expires_at": stmt.excluded.expires_at,
                },
                where=t.c.expires_at <= now,
            ).returning(t.c.loan_id)
        ).first()
        if row is not None:
            won.add(row[0])
    return won


def renew_claims(session: Session, run_id: str, until: datetime) -> None:
    t = loan_claim_table
    session.execute(update(t).where(t.c.run_id == run_id).values(expires_at=until))


def release_job_claims(session: Session, *, job: str, keep_run_id: str) -> None:
    """Claims of the job's other passes: holding the job's lease, this pass knows them dead."""
    t, r = loan_claim_table, run_table.c
    others = select(r.run_id).where(r.job == job, r.run_id != keep_run_id)
    session.execute(delete(t).where(t.c.run_id.in_(others)))


def release_loan_claims(session: Session, run_id: str, loan_ids: Iterable[str]) -> None:
    """Give back some of this pass's loans, e.g. for the job's next policy to select."""
    t = loan_claim_table
    ids = list(loan_ids)
    if ids:
        session.execute(delete(t).where(t.c.run_id == run_id, t.c.loan_id.in_(ids)))


def release_claims(session: Session, run_id: str) -> None:
    t = loan_claim_table
    session.execute(delete(t).where(t.c.run_id == run_id))


@dataclass(frozen=True, slots=True)
class StaleCounts:
    """How many loans a policy finds stale, and how many of those the selection leaves out and why."""

    stale: int = 0
    in_flight: int = 0
    backoff: int = 0
    held: int = 0
    unknown: int = 0  # data date nobody knows yet: their order is read before anything is decided


@dataclass(frozen=True, slots=True)
class LoanConnectionRow:
    """One of a loan's connections as its original order names it."""

    loan_id: str
    suborder_id: str
    order_id: str
    kind: str
    suborder_number: str | None
    token_hash: str
    link_id: str | None
    status: str | None
    data_as_of: datetime | None


@dataclass(frozen=True, slots=True)
class ConnectionStateRow:
    """What the job knows of a connection (shared by every loan whose orders name its token)."""

    token_hash: str
    state: str
    reason: str | None
    retry_after: datetime | None
    blocked_until: datetime | None


def loan_connections(session: Session, loan_id: str) -> list[tuple[LoanConnectionRow, ConnectionStateRow | None]]:
    lc, c = loan_connection_table.c, connection_table.c
    rows = session.execute(
        select(
            lc.loan_id,
            lc.suborder_id,
            lc.order_id,
            lc.kind,
            lc.suborder_number,
            lc.token_hash,
            lc.link_id,
            lc.status,
            lc.data_as_of,
            c.token_hash,
            c.state,
            c.reason,
            c.retry_after,
            c.blocked_until,
        )
        .select_from(loan_connection_table.outerjoin(connection_table, c.token_hash == lc.token_hash))
        .where(lc.loan_id == loan_id)
        .order_by(lc.suborder_id)
    ).all()
    return [(LoanConnectionRow(*row[:9]), ConnectionStateRow(*row[9:]) if row[9] is not None else None) for row in rows]
