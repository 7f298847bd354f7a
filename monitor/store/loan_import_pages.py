"""SQLite's page I/O during a loans import: a larger page cache for the import, and a first import's
secondary indexes built once after the load instead of row by row. Postgres needs neither."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection as SAConnection

# SQLite's page cache during an import, in KiB: 64 MiB would save another few seconds over 1M loans
# but take the import past its 150 MB target; 32 MiB stays near 130 MB.
IMPORT_CACHE_KIB = 32 * 1024
# The page cache while a first import builds its indexes, in KiB (see `indexes_built_after`).
INDEX_BUILD_CACHE_KIB = 8 * 1024
# The loans' own tables, whose other indexes a first import builds once it has loaded them.
INDEXED = ("loan", "loan_attribute")


@contextmanager
def page_cache(conn: SAConnection) -> Iterator[None]:
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


@contextmanager
def indexes_built_after(conn: SAConnection, *, first: bool) -> Iterator[None]:
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
    names = ", ".join(f"'{t}'" for t in INDEXED)
    found = conn.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({names}) AND sql IS NOT NULL"
    ).all()
    for name, _ in found:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    # A build sorts in memory up to the page cache's size, on top of the cache: a smaller cache keeps the
    # import under its 150 MB (the sort spills to a temporary file instead; `page_cache` restores it).
    conn.exec_driver_sql(f"PRAGMA cache_size = {-INDEX_BUILD_CACHE_KIB}")
    for _, sql in found:
        conn.exec_driver_sql(sql)
