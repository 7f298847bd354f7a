"""`loans import` on real databases: upsert, snapshots, and all-or-nothing on a bad row."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from monitor.errors import ImportFileError
from monitor.store.db import session
from monitor.store.tables import Loan, LoanAttribute
from tests.helpers import import_csv, services

HEADER = "loan_id,order_id,gse,status,closing_date,data_as_of,program,branch\n"


def count(svc) -> int:
    with session(svc.engine) as s:
        return s.execute(select(func.count()).select_from(Loan)).scalar_one()


def test_csv_import_and_upsert(db_url, clock, tmp_path):
    svc = services(db_url, clock, None)
    f = tmp_path / "loans.csv"
    f.write_text(HEADER + "L1,o1,true,active,2026-07-01,2026-05-01T10:00:00Z,FHA,east\nL2,o2,,,,,va,\n")
    result = import_csv(svc, f)
    assert (result.rows, result.inserted, result.updated) == (2, 2, 0)
    with session(svc.engine) as s:
        l1 = s.get(Loan, "L1")
        l2 = s.get(Loan, "L2")
        attrs = dict(
            s.execute(select(LoanAttribute.key, LoanAttribute.value).where(LoanAttribute.loan_id == "L1")).all()
        )
    assert l1.gse and l1.closing_date.isoformat() == "2026-07-01"
    assert l1.data_as_of == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert not l2.gse and l2.status == "active" and l2.data_as_of is None
    assert attrs == {"program": "fha", "branch": "east"}
    f.write_text(HEADER + "L1,o1,true,closed,2026-07-01,2026-04-01T10:00:00Z,FHA,west\n")
    again = import_csv(svc, f)
    assert (again.inserted, again.updated) == (0, 1)
    with session(svc.engine) as s:
        l1 = s.get(Loan, "L1")
    assert l1.status == "closed"
    assert l1.data_as_of == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)  # never moved backwards


def test_full_snapshot_closes_absent_loans(db_url, clock, tmp_path):
    svc = services(db_url, clock, None)
    f = tmp_path / "a.csv"
    f.write_text("loan_id,order_id\nL1,o1\nL2,o2\nL3,o3\n")
    import_csv(svc, f)
    clock.advance(60)
    f.write_text("loan_id,order_id\nL1,o1\n")
    result = import_csv(svc, f, full_snapshot=True)
    assert result.closed == 2
    with session(svc.engine) as s:
        assert dict(s.execute(select(Loan.loan_id, Loan.status)).all()) == {
            "L1": "active",
            "L2": "closed",
            "L3": "closed",
        }


def test_jsonl_import(db_url, clock, tmp_path):
    svc = services(db_url, clock, None)
    f = tmp_path / "loans.jsonl"
    f.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"loan_id": "J1", "order_id": "o1", "gse": True, "program": "conventional"},
                {"loan_id": "J2", "order_id": "o2", "closing_date": "2026-08-01"},
            ]
        )
        + "\n"
    )
    assert import_csv(svc, f).rows == 2


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        ("L1,o1,maybe,,,\n", "row 3, column 'gse'", "expected true or false, got 'maybe'"),
        (",o1,,,,\n", "row 3, column 'loan_id'", "required value is empty"),
        ("L9,o1,,open,,\n", "row 3, column 'status'", "expected active or closed"),
        ("L9,o1,,,31/12/2026,\n", "row 3, column 'closing_date'", "YYYY-MM-DD"),
        ("L9,o1,,,,yesterday\n", "row 3, column 'data_as_of'", "ISO-8601"),
        ("L0,o1,,,,\n", "row 3, column 'loan_id'", "repeats row 2"),
    ],
)
def test_one_bad_row_imports_nothing(db_url, clock, tmp_path, body, where, what):
    svc = services(db_url, clock, None)
    f = tmp_path / "bad.csv"
    f.write_text("loan_id,order_id,gse,status,closing_date,data_as_of\nL0,o0,,,,\n" + body)
    with pytest.raises(ImportFileError) as info:
        import_csv(svc, f)
    assert where in str(info.value) and what in str(info.value) and str(f) in str(info.value)
    assert count(svc) == 0


def test_missing_required_column(sqlite_url, clock, tmp_path):
    svc = services(sqlite_url, clock, None)
    f = tmp_path / "bad.csv"
    f.write_text("loan,order_id\nL1,o1\n")
    with pytest.raises(ImportFileError, match=r"row 1 \(header\): missing required column\(s\): loan_id"):
        import_csv(svc, f)


def test_postgres_is_not_migrated_behind_the_operators_back(pg_url, tmp_path):
    import subprocess
    import sys

    from monitor.app import open_database
    from monitor.errors import StorageError

    with pytest.raises(StorageError, match=r"run `monitor db upgrade` once"):
        open_database(pg_url)
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--database", pg_url, "db", "upgrade"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    from monitor.store.db import head_revision

    assert f"database at revision {head_revision()}" in done.stdout
    open_database(pg_url)  # now at head


def test_db_upgrade_from_several_instances_at_once(pg_url, tmp_path):
    import subprocess
    import sys

    from monitor.store.db import current_revision, head_revision, make_engine

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "monitor", "--database", pg_url, "db", "upgrade"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    assert current_revision(make_engine(pg_url)) == head_revision()
