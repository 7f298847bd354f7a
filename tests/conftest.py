"""Shared fixtures: a fixed clock, real databases (a SQLite file and a Postgres schema per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, create_engine, event, text

from monitor.clock import FixedClock

# A Friday before a holiday-free week, midday UTC: business-day arithmetic stays readable.
T0 = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
PG_URL = os.environ.get("MONITOR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def _pg_schema_url() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        pytest.fail(f"Postgres at {PG_URL} is required for this test leg: {exc}")
    admin.dispose()  # no idle admin connection held while the test runs; the drop below opens a new one
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The same test on a SQLite file and on Postgres (its own schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_schema_url()


@pytest.fixture(autouse=True)
def _engines_are_disposed() -> Iterator[None]:
    """Every engine that connected during a test is disposed when the test ends (after its own fixtures).

    Tests build engines in many places (`tests.helpers.services`, `make_engine` in a test, the CLI run in
    process, a receiver app); a pool left open keeps its database connections until the garbage collector
    finds them, which psycopg reports as a ResourceWarning (an error here) in whatever test runs then.
    An engine that outlives the test (a module fixture's) simply reconnects when used again.
    """
    engines: dict[int, Engine] = {}

    def connected(conn: Connection) -> None:
        engines.setdefault(id(conn.engine), conn.engine)

    event.listen(Engine, "engine_connect", connected)
    try:
        yield
    finally:
        event.remove(Engine, "engine_connect", connected)
        for engine in engines.values():
            engine.dispose()


@pytest.fixture(autouse=True)
def _every_refresh_goes_to_an_original_order(request: pytest.FixtureRequest) -> Iterator[None]:
    """Across the whole suite, no sandbox ever has to refuse a refresh of a refresh order (rule 6).

    Tests that send one on purpose say so with `@pytest.mark.refresh_of_refresh`.
    """
    import weakref

    from monitor.sandbox import Sandbox

    made: list[weakref.ref[Sandbox]] = []
    original_init = Sandbox.__init__

    def tracking_init(self: Sandbox, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(weakref.ref(self))

    Sandbox.__init__ = tracking_init  # type: ignore[method-assign]
    try:
        yield
    finally:
        Sandbox.__init__ = original_init  # type: ignore[method-assign]
    if request.node.get_closest_marker("refresh_of_refresh") is None:
        refused = sum(s.refresh_of_refresh_refusals for s in (ref() for ref in made) if s is not None)
        assert refused == 0, f"{refused} refresh POST(s) named a refresh order instead of the original"
