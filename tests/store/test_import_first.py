"""A first import (no loan yet) loads the loans, then builds their tables' indexes once (issue 26, point 3):
the indexes are the same after it, and a failed import leaves them, and the loans, as they were."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from monitor.clock import FixedClock
from monitor.errors import ImportFileError
from monitor.store import loan_import, loan_import_pages
from monitor.store.db import make_engine, session
from monitor.store.loan_import_sqlite import SqliteLoader
from monitor.store.tables import loan_attribute_table, loan_table
from tests.helpers import import_csv, services, write_csv


def indexes(url: str) -> dict[str, list[Any]]:
    engine = make_engine(url)
    try:
        found = inspect(engine)
        return {
            t: sorted((i["name"], i["column_names"]) for i in found.get_indexes(t)) for t in loan_import_pages.INDEXED
        }
    finally:
        engine.dispose()


def book(path: Path, clock: FixedClock, n: int, *, bad_at: int | None = None) -> Path:
    when = (clock.now() - timedelta(days=3)).isoformat()
    rows = [
        {"loan_id": f"F{i:05d}", "order_id": f"o{i}", "gse": "maybe" if i == bad_at else "false",
         "closing_date": f"2026-07-{1 + i % 28:02d}", "data_as_of": when, "program": ("fha", "va")[i % 2]}
        for i in range(n)
    ]  # fmt: skip
    return write_csv(path, rows)


def count(url: str, table: Any) -> int:
    engine = make_engine(url)
    try:
        with session(engine) as s:
            return int(s.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def test_a_first_import_leaves_the_loan_tables_indexed_as_before(
    db_url: str, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loan_import, "BATCH", 100)  # several batches
    svc = services(db_url, clock, None)
    before = indexes(db_url)
    assert before["loan"] and before["loan_attribute"]
    result = import_csv(svc, book(tmp_path / "first.csv", clock, 450))
    assert (result.inserted, indexes(db_url)) == (450, before)
    # The next import (loans present) keeps them, and finds the loans by them.
    again = import_csv(svc, book(tmp_path / "again.csv", clock, 460))
    assert (again.inserted, again.updated, indexes(db_url)) == (10, 450, before)
    assert count(db_url, loan_attribute_table) == 460


def test_a_first_import_that_fails_after_some_batches_leaves_no_loan_and_every_index(
    db_url: str, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loan_import, "BATCH", 100)
    svc = services(db_url, clock, None)
    before = indexes(db_url)
    with pytest.raises(ImportFileError, match=r"row 352, column 'gse'"):
        import_csv(svc, book(tmp_path / "bad.csv", clock, 450, bad_at=350))
    assert (count(db_url, loan_table), indexes(db_url)) == (0, before)


def test_sqlite_builds_the_indexes_after_the_loans_on_a_first_import_only(
    sqlite_url: str, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What makes a first import faster: no index while the loans go in (then one sorted build each)."""
    seen: list[int] = []
    real = SqliteLoader.__call__

    def watched(self: Any, batch: Any) -> None:
        names = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'loan' AND sql IS NOT NULL"
        seen.append(int(self.conn.exec_driver_sql(names).scalar_one()))
        real(self, batch)

    monkeypatch.setattr(SqliteLoader, "__call__", watched)
    svc = services(sqlite_url, clock, None)
    import_csv(svc, book(tmp_path / "first.csv", clock, 30))
    import_csv(svc, book(tmp_path / "again.csv", clock, 30))
    assert seen[0] == 0 and seen[1] == len(indexes(sqlite_url)["loan"]) > 0
