"""Engine construction and schema upgrades; the only place that knows SQLite from Postgres."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlmodel import Session, create_engine

from monitor.errors import ConfigError, StorageError

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; users should not have to know the driver name."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, source: str = "database url") -> Engine:
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        raise ConfigError(
            source, "", f"expected a URL like sqlite:///monitor.db or postgresql://host/db, got {url!r}"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, pool_size=16, max_overflow=16)
    raise ConfigError(source, "", f"unsupported database {parsed.get_backend_name()!r}; use sqlite or postgresql")


# One lock per SQLite file in this process: threads queue for the write lock here, in order,
# instead of in SQLite's busy handler, whose sleeps (up to 100 ms each) made the tail latency.
_WRITE_LOCKS: dict[str, threading.RLock] = {}


def _sqlite_engine(parsed: Any) -> Engine:
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed, connect_args={"check_same_thread": False, "timeout": 60}, pool_size=16, max_overflow=16
    )

    _WRITE_LOCKS.setdefault(str(parsed), threading.RLock())

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN; we issue BEGIN ourselves (below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # IMMEDIATE by default: a transaction that reads a budget and then writes a reservation
        # must hold the write lock from its first read, or two processes could both pass the check.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def read_only(engine: Engine) -> Engine:
    """An engine view for long reads (plan, reports) that must not hold SQLite's write lock."""
    return engine.execution_options(sqlite_begin="DEFERRED")


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error; storage failures become StorageError."""
    lock = None
    if (
        engine.dialect.name == "sqlite"
        and engine.get_execution_options().get("sqlite_begin", "IMMEDIATE") == "IMMEDIATE"
    ):
        lock = _WRITE_LOCKS.get(str(engine.url))
    with lock or nullcontext(), Session(engine, expire_on_commit=False) as s:
        try:
            yield s
            s.commit()
        except SQLAlchemyError as exc:
            s.rollback()
            raise StorageError(f"database error: {getattr(exc, 'orig', None) or exc}") from exc
        except BaseException:
            s.rollback()
            raise


def upgrade(engine: Engine) -> None:
    """Apply Alembic migrations to head. Safe to run from several instances at once on Postgres."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_lock(7305550001)"))
                conn.commit()
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_unlock(7305550001)"))
                    conn.commit()
    except OperationalError as exc:
        raise StorageError(f"cannot reach the database: {exc.orig}") from exc


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise StorageError(f"cannot reach the database: {exc.orig}") from exc


def head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def upsert_insert(bind: Any, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT, for whichever of our two dialects `bind` speaks.

    `bind` is a Session or a Connection; both SQLite and Postgres take the same on_conflict_* calls.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = bind.get_bind().dialect.name if hasattr(bind, "get_bind") else bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
