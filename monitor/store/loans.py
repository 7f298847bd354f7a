"""Loans: bulk import (upsert) and the set-based selection of stale loans."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Column, MetaData, Table, and_, case, delete, exists, func, not_, or_, select, true, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection as SAConnection
from sqlmodel import Session

from monitor.core.matching import normalise
from monitor.core.staleness import pre_closing_windows, start_of_day_utc
from monitor.errors import ImportFileError, StorageError
from monitor.loans_file import LoanRow, shown_column
from monitor.store.db import upsert_insert
from monitor.store.tables import Connection, Loan, LoanAttribute, LoanClaim, LoanConnection, Reservation

IN_FLIGHT = ("reserved", "sent", "unknown", "accepted")
BATCH = 2000
# Postgres loads through COPY, where a batch costs a few round trips whatever its size: bigger is cheaper.
BATCH_POSTGRES = 20_000
_COLUMNS = {"gse": Loan.gse, "status": Loan.status, "loan_id": Loan.loan_id, "order_id": Loan.order_id}


@dataclass
class ImportResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    closed: int = 0


# A full snapshot closing more than this share of the active loans is taken for a broken export.
DEFAULT_MAX_CLOSE = 0.10
# A data date is when Truv collected the data, so it cannot be in the future; a day covers a loan
# system's clock or time-zone slip. Past that it would stop refreshes for good: the data date never
# moves backwards, so 9999-12-31 could never be corrected by a later import.
FUTURE_ALLOWANCE = timedelta(days=1)
_LOAN_WIDTHS = {name: Loan.__table__.c[name].type.length for name in ("loan_id", "order_id")}
_KEY_WIDTH = LoanAttribute.__table__.c.key.type.length
_VALUE_WIDTH = LoanAttribute.__table__.c.value.type.length


def _insert(conn: SAConnection) -> Any:
    return upsert_insert(conn, Loan.__table__)


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
    existing = session.execute(select(func.count()).select_from(Loan)).scalar_one()
    active_before = _count(conn, Loan.__table__.c.status == "active") if full_snapshot else 0
    seen: dict[str, int] = {}
    batch: list[LoanRow] = []
    for row in rows:
        first = seen.setdefault(row.loan_id, row.row)
        if first != row.row:
            raise ImportFileError(
                source, f"row {row.row}, column 'loan_id'", f"loan {row.loan_id!r} repeats row {first}"
            )
        _check_storable(row, not_after=not_after, source=source)
        batch.append(row)
        if len(batch) >= (BATCH_POSTGRES if conn.dialect.name == "postgresql" else BATCH):
            _flush(conn, batch, now)
            batch = []
    if batch:
        _flush(conn, batch, now)
    result.rows = len(seen)
    after = session.execute(select(func.count()).select_from(Loan)).scalar_one()
    result.inserted = after - existing
    result.updated = result.rows - result.inserted
    if full_snapshot:
        if not force:
            _check_snapshot(
                conn, rows=result.rows, active_before=active_before, now=now, max_close=max_close, source=source
            )
        closed = conn.execute(update(Loan.__table__).where(_absent(now)).values(status="closed", updated_at=now))
        result.closed = closed.rowcount or 0
    return result


def _absent(now: datetime) -> Any:
    """Active loans this import did not touch: the ones a full snapshot closes."""
    t = Loan.__table__.c
    return and_(t.status == "active", t.imported_at < now)


def _count(conn: SAConnection, where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(Loan.__table__).where(where)).scalar_one())


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

    def refuse(column: str, message: str) -> ImportFileError:
        return ImportFileError(source, f"row {row.row}, column {shown_column(column)}", message)

    for name, width in _LOAN_WIDTHS.items():
        if len(value := getattr(row, name)) > width:
            raise refuse(name, f"expected at most {width} characters, got {len(value)}")
    for key, value in row.attributes.items():
        if len(key) > _KEY_WIDTH:
            raise refuse(key, f"expected a column name of at most {_KEY_WIDTH} characters, got {len(key)}")
        if len(normalise(value)) > _VALUE_WIDTH:
            raise refuse(key, f"expected at most {_VALUE_WIDTH} characters, got {len(normalise(value))}")
    if not_after is not None and row.data_as_of is not None and row.data_as_of > not_after:
        raise refuse(
            "data_as_of",
            f"expected a time no later than {not_after:%Y-%m-%dT%H:%M}Z (data cannot be collected in the future), "
            f"got {row.data_as_of.isoformat()!r}",
        )


_COPY_COLUMNS = ("loan_id", "order_id", "gse", "status", "closing_date", "data_as_of", "imported_at", "updated_at")
_STAGING = Table("loan_import", MetaData(), *(Column(c) for c in _COPY_COLUMNS))


def _upsert_set(stmt: Any) -> dict[str, Any]:
    table = Loan.__table__
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
        "updated_at": ex.updated_at,
    }


def _flush_postgres(conn: SAConnection, batch: Sequence[LoanRow], now: datetime) -> None:
    """COPY into a staging table, then one set-based upsert: far fewer round trips than VALUES lists."""
    import psycopg

    try:
        _copy_upsert(conn, batch, now)
    except psycopg.Error as exc:
        # The raw cursor's errors are psycopg's, not SQLAlchemy's: say them as every other database error.
        raise StorageError(f"database error: {exc}") from exc


def _copy_upsert(conn: SAConnection, batch: Sequence[LoanRow], now: datetime) -> None:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS loan_import (LIKE loan INCLUDING DEFAULTS) ON COMMIT DROP; "
            "TRUNCATE loan_import"
        )
        with cur.copy(f"COPY loan_import ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
            for r in batch:
                copy.write_row((r.loan_id, r.order_id, r.gse, r.status, r.closing_date, r.data_as_of, now, now))
        stmt = postgresql.insert(Loan.__table__).from_select(list(_COPY_COLUMNS), select(*_STAGING.c))
        conn.execute(stmt.on_conflict_do_update(index_elements=[Loan.__table__.c.loan_id], set_=_upsert_set(stmt)))
        attrs = LoanAttribute.__table__
        conn.execute(delete(attrs).where(attrs.c.loan_id.in_(select(_STAGING.c.loan_id))))
        with cur.copy("COPY loan_attribute (loan_id, key, value) FROM STDIN") as copy:
            for r in batch:
                for k, v in r.attributes.items():
                    if v != "":
                        copy.write_row((r.loan_id, k, normalise(v)))


def _flush(conn: SAConnection, batch: Sequence[LoanRow], now: datetime) -> None:
    if conn.dialect.name == "postgresql":
        _flush_postgres(conn, batch, now)
        return
    stmt = _insert(conn)
    values = [
        {
            "loan_id": r.loan_id,
            "order_id": r.order_id,
            "gse": r.gse,
            "status": r.status,
            "closing_date": r.closing_date,
            "data_as_of": r.data_as_of,
            "imported_at": now,
            "updated_at": now,
        }
        for r in batch
    ]
    stmt = stmt.on_conflict_do_update(index_elements=[Loan.__table__.c.loan_id], set_=_upsert_set(stmt))
    conn.execute(stmt, values)
    ids = [r.loan_id for r in batch]
    attrs = LoanAttribute.__table__
    conn.execute(delete(attrs).where(attrs.c.loan_id.in_(ids)))
    attr_rows = [
        {"loan_id": r.loan_id, "key": k, "value": normalise(v)}
        for r in batch
        for k, v in r.attributes.items()
        if v != ""
    ]
    if attr_rows:
        conn.execute(attrs.insert(), attr_rows)


@dataclass(frozen=True, slots=True)
class Candidate:
    loan_id: str
    order_id: str
    base_order_id: str | None
    gse: bool
    closing_date: date | None
    data_as_of: datetime | None
    details_fetched_at: datetime | None


def _match_clause(match: dict[str, Any]) -> Any:
    clauses = []
    for key, wanted in match.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        values = [normalise(o) for o in options]
        if key == "gse":
            flags = {v in ("true", "1", "yes") for v in values}
            clauses.append(Loan.gse.in_(list(flags)))  # type: ignore[attr-defined]
        elif key in _COLUMNS:
            clauses.append(func.lower(_COLUMNS[key]).in_(values))
        else:
            a = LoanAttribute.__table__.c
            clauses.append(exists().where(a.loan_id == Loan.loan_id, a.key == key, a.value.in_(values)))
    return and_(true(), *clauses)


_SCOPE_DATES = {
    "employer": Loan.data_as_of_employers,
    "account": Loan.data_as_of_accounts,
    "insurance": Loan.data_as_of_insurance,
}


def data_date(scope: str) -> Any:
    """SQL for a loan's data date for one product scope (DESIGN.md rules 10, 11).

    Before its order has been read: the imported `data_as_of`; after: the scope's own date.
    """
    return case((Loan.details_fetched_at.is_(None), Loan.data_as_of), else_=_SCOPE_DATES[scope])  # type: ignore[union-attr]


def unknown_clause() -> Any:
    """Loans whose data date nobody knows yet: the order must be read before anything is decided."""
    return and_(Loan.details_fetched_at.is_(None), Loan.data_as_of.is_(None))  # type: ignore[union-attr]


def stale_clause(
    *, max_age_cutoff: datetime, pre_closing_days: int | None, today: date, scope: str = "employer"
) -> Any:
    """SQL for DESIGN's staleness rule; mirrors monitor.core.staleness.assess.

    A loan whose date is unknown only because its order was never read is not stale (rule 11):
    see `unknown_clause`. Once read, a product with a connection that never completed is.
    """
    when = data_date(scope)
    clauses = [and_(Loan.details_fetched_at.is_not(None), when.is_(None)), when < max_age_cutoff]  # type: ignore[union-attr]
    if pre_closing_days:
        for closing, start in pre_closing_windows(today, pre_closing_days):
            clauses.append(and_(Loan.closing_date == closing, when < start_of_day_utc(start)))  # type: ignore[arg-type]
    return or_(*clauses)


def _workable(*, max_age_cutoff: datetime, pre_closing_days: int | None, today: date, scope: str) -> Any:
    """What a pass looks at: stale loans, and loans whose order must first be read."""
    return or_(
        stale_clause(max_age_cutoff=max_age_cutoff, pre_closing_days=pre_closing_days, today=today, scope=scope),
        unknown_clause(),
    )


def select_stale(
    session: Session,
    *,
    match: dict[str, Any],
    max_age_cutoff: datetime,
    pre_closing_days: int | None,
    now: datetime,
    limit: int | None,
    claim: Claim | None = None,
    scope: str = "employer",
) -> list[Candidate]:
    """Active, matching, stale (or not yet read) loans with nothing in flight, no backoff, no hold.

    Ordered by closing date (soonest first, none last), then oldest data (never verified first).
    With `claim`, only loans no live pass has claimed, and the ones returned are claimed in the
    caller's transaction: on Postgres the rows are locked `FOR UPDATE SKIP LOCKED`, so instances
    selecting at the same moment take different loans; on SQLite the write transaction already
    excludes a second selector.
    """
    r = Reservation.__table__.c
    in_flight = exists().where(r.loan_id == Loan.loan_id, r.state.in_(IN_FLIGHT))
    query = (
        select(
            Loan.loan_id,
            Loan.order_id,
            Loan.base_order_id,
            Loan.gse,
            Loan.closing_date,
            data_date(scope),
            Loan.details_fetched_at,
        )
        .where(
            Loan.status == "active",
            Loan.hold.is_(None),  # type: ignore[union-attr]
            _match_clause(match),
            _workable(max_age_cutoff=max_age_cutoff, pre_closing_days=pre_closing_days, today=now.date(), scope=scope),
            not_(in_flight),
            or_(Loan.next_attempt_at.is_(None), Loan.next_attempt_at <= now),  # type: ignore[union-attr,operator]
        )
        .order_by(
            Loan.closing_date.is_(None),  # type: ignore[union-attr]
            Loan.closing_date,
            data_date(scope).is_not(None),
            data_date(scope),
            Loan.loan_id,
        )
    )
    if claim is not None:
        c = LoanClaim.__table__.c
        query = query.where(not_(exists().where(c.loan_id == Loan.loan_id, c.expires_at > now)))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Loan.__table__)
    if limit is not None:
        query = query.limit(limit)
    found = [Candidate(*row) for row in session.execute(query)]
    if claim is not None and found:
        won = _claim(session, [x.loan_id for x in found], claim, now)
        found = [x for x in found if x.loan_id in won]
    return found


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
    t = LoanClaim.__table__
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
    t = LoanClaim.__table__
    session.execute(update(t).where(t.c.run_id == run_id).values(expires_at=until))


def release_job_claims(session: Session, *, job: str, keep_run_id: str) -> None:
    from monitor.store.tables import Run

    t = LoanClaim.__table__
    others = select(Run.run_id).where(Run.job == job, Run.run_id != keep_run_id)  # type: ignore[arg-type]
    session.execute(delete(t).where(t.c.run_id.in_(others)))


def release_loan_claims(session: Session, run_id: str, loan_ids: Iterable[str]) -> None:
    """Give back some of this pass's loans, e.g. for the job's next policy to select."""
    t = LoanClaim.__table__
    ids = list(loan_ids)
    if ids:
        session.execute(delete(t).where(t.c.run_id == run_id, t.c.loan_id.in_(ids)))


def release_claims(session: Session, run_id: str) -> None:
    t = LoanClaim.__table__
    session.execute(delete(t).where(t.c.run_id == run_id))


def count_stale(
    session: Session,
    *,
    match: dict[str, Any],
    max_age_cutoff: datetime,
    pre_closing_days: int | None,
    now: datetime,
    scope: str = "employer",
) -> dict[str, int]:
    """How many loans a policy finds stale, how many of those are held back and why, and how many
    have a data date nobody knows yet (their order is read before anything is decided)."""
    r = Reservation.__table__.c
    in_flight = exists().where(r.loan_id == Loan.loan_id, r.state.in_(IN_FLIGHT))
    backoff = and_(Loan.next_attempt_at.is_not(None), Loan.next_attempt_at > now)  # type: ignore[union-attr,operator]
    held = Loan.hold.is_not(None)  # type: ignore[union-attr]
    stale = stale_clause(
        max_age_cutoff=max_age_cutoff, pre_closing_days=pre_closing_days, today=now.date(), scope=scope
    )
    row = session.execute(
        select(
            func.sum(case((stale, 1), else_=0)),
            func.sum(case((and_(stale, in_flight), 1), else_=0)),
            func.sum(case((and_(stale, not_(in_flight), not_(held), backoff), 1), else_=0)),
            func.sum(case((and_(stale, held), 1), else_=0)),
            func.sum(case((unknown_clause(), 1), else_=0)),
        ).where(Loan.status == "active", _match_clause(match))
    ).one()
    return {
        "stale": row[0] or 0,
        "in_flight": row[1] or 0,
        "backoff": row[2] or 0,
        "held": row[3] or 0,
        "unknown": row[4] or 0,
    }


def loan_connections(session: Session, loan_id: str) -> list[tuple[LoanConnection, Connection | None]]:
    lc = LoanConnection
    rows = session.execute(
        select(lc, Connection)
        .join(Connection, Connection.token_hash == lc.token_hash, isouter=True)  # type: ignore[arg-type]
        .where(lc.loan_id == loan_id)
        .order_by(lc.suborder_id)
    ).all()
    return [(a, b) for a, b in rows]
