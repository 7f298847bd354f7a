"""Engine construction and schema upgrades; the only place that knows SQLite from Postgres."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event, text
from sqlalchemy.engine import URL, CursorResult, Result, make_url
from sqlalchemy.engine import Engine as Engine  # re-exported: code above store types its engine with it
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import Session, create_engine

from monitor.errors import ConfigError, StorageError

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; users should not have to know the driver name."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


# user:password@ in any URL-shaped text, up to the last @ (a password may hold @ or /).
_PASSWORD = re.compile(r"(://[^:/@\s]*:)\S*@")
# The first 16 bytes of every SQLite 3 database file.
_SQLITE_HEADER = b"SQLite format 3\x00"
_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}


def mask_password(text: str) -> str:
    """A database URL (or text holding one) as it may be shown: the password replaced by ***.

    By pattern rather than by parsing, so an unparsable URL is masked too.
    """
    return _PASSWORD.sub(r"\1***@", text)


def parse_url(url: str, *, source: str = "database url") -> URL:
    """The URL, or a ConfigError saying what is wrong with it (password masked)."""

    def bad(problem: str) -> ConfigError:
        return ConfigError(
            source,
            "",
            f"{problem}: expected a URL like sqlite:///monitor.db or postgresql://user@host/db, "
            f"got {mask_password(url)!r}",
        )

    try:
        parsed = make_url(normalise_url(url))
        port = parsed.port  # a port that is not a number fails here
    except (ArgumentError, ValueError):
        raise bad("not a database URL") from None
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise bad(f"unsupported database {backend!r}; use sqlite or postgresql")
    if parsed.get_driver_name() != _DRIVERS[backend]:
        raise bad(f"unsupported driver {parsed.get_driver_name()!r} for {backend}")
    if port is not None and not 0 < port < 65536:
        raise bad(f"port {port} is out of range")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        # An in-memory ledger would be lost at exit, and with it every budget reservation.
        raise bad("no database file")
    return parsed


def make_engine(url: str, *, source: str = "database url") -> Engine:
    parsed = parse_url(url, source=source)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, source)
    return create_engine(parsed, pool_pre_ping=True, pool_size=16, max_overflow=16)


# One lock per SQLite file in this process: threads queue for the write lock here, in order,
# instead of in SQLite's busy handler, whose sleeps (up to 100 ms each) made the tail latency.
_WRITE_LOCKS: dict[str, threading.RLock] = {}


def _sqlite_file(database: str, source: str) -> None:
    """Create the database file 0600 before SQLite opens it, or check that an existing one is SQLite's.

    It holds PII (loans, audit detail): SQLite would create it 0644 under the usual umask, and
    creates its -wal and -shm files with the database file's own mode, so this covers all three.
    A file that is something else (a jobs.yaml passed as --database) is refused before SQLite
    writes to it or fails with "file is not a database" deep in a migration.
    """
    path = Path(database)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(source, "", f"cannot create the SQLite database {database}: {exc.strerror}") from None
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise ConfigError(source, "", f"cannot open the SQLite database {database}: {exc.strerror}") from None
    if head and head != _SQLITE_HEADER:
        raise ConfigError(source, "", f"{database} is not a database (not a SQLite file); check --database")


def _sqlite_engine(parsed: Any, source: str) -> Engine:
    _sqlite_file(parsed.database, source)
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


def open_database(url: str, *, auto_upgrade: bool = True, source: str = "database url") -> Engine:
    """SQLite (one machine, one file) upgrades itself; a shared server is upgraded on purpose.

    On Postgres several instances share the schema, so an old binary must not migrate it under
    a newer one: it says what to run instead.
    """
    engine = make_engine(url, source=source)
    if engine.dialect.name == "sqlite":
        if auto_upgrade:
            upgrade(engine)
        return engine
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise StorageError(
            f"the database schema is at {current or 'nothing (empty database)'}, this monitor needs {head}: "
            "run `monitor db upgrade` once, then retry"
        )
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
    except DBAPIError as exc:
        raise _unusable(exc) from exc


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:
        raise _unusable(exc) from exc


def _unusable(exc: DBAPIError) -> StorageError:
    """Unreachable (OperationalError), or refused for another reason: a bad connection option in the URL."""
    what = "cannot reach the database" if isinstance(exc, OperationalError) else "cannot use the database"
    return StorageError(f"{what}: {' '.join(mask_password(str(exc.orig)).split())}")  # one line, as every error


def head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run through `Session.execute` changed.

    SQLModel's `Session.execute` types every result as a plain `Result`; for DML it is a `CursorResult`.
    """
    return cast("CursorResult[Any]", result).rowcount or 0


def upsert_insert(bind: Any, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT, for whichever of our two dialects `bind` speaks.

    `bind` is a Session or a Connection; both SQLite and Postgres take the same on_conflict_* calls.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = bind.get_bind().dialect.name if hasattr(bind, "get_bind") else bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
