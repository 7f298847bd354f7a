"""`loans import` on real databases: upsert, snapshots, and all-or-nothing on a bad row."""

from __future__ import annotations

import csv
import itertools
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from monitor.errors import ImportFileError
from monitor.loans_file import parse_row, read_rows
from monitor.store.db import session
from monitor.store.loan_import import import_loans
from monitor.store.loan_import_rows import FUTURE_ALLOWANCE
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


def import_file(svc, path, **options):
    """import_loans as `loans import` calls it: data dates more than a day ahead refused, snapshot options."""
    now = svc.clock.now()
    with session(svc.engine) as s:
        return import_loans(
            s,
            read_rows(path),
            now=now,
            full_snapshot=options.pop("full_snapshot", False),
            source=str(path),
            not_after=now + FUTURE_ALLOWANCE,
            **options,
        )


def test_full_snapshot_closes_absent_loans(db_url, clock, tmp_path):
    svc = services(db_url, clock, None)
    f = tmp_path / "a.csv"
    f.write_text("loan_id,order_id\nL1,o1\nL2,o2\nL3,o3\n")
    import_csv(svc, f)
    clock.advance(60)
    f.write_text("loan_id,order_id\nL1,o1\n")
    result = import_file(svc, f, full_snapshot=True, max_close=0.7)  # 2 of 3: past the default 10%
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
    # communicate, not wait: it reads both pipes to the end (no child blocks on a full one) and closes them
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    engine = make_engine(pg_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


# -- hostile files (issue 11, point 9): exit-2 errors naming row and column, nothing changed ---------

SEED = "loan_id,order_id,gse,status,closing_date,data_as_of,program\nL0,o0,true,active,2026-07-01,2026-05-01,fha\n"


def state(svc) -> tuple[list[tuple], list[tuple]]:
    """Everything an import writes: the loans and their attributes."""
    with session(svc.engine) as s:
        loans = s.execute(select(Loan.loan_id, Loan.order_id, Loan.status, Loan.data_as_of).order_by(Loan.loan_id))
        attrs = s.execute(select(LoanAttribute.loan_id, LoanAttribute.key, LoanAttribute.value).order_by("loan_id"))
        return [tuple(r) for r in loans], [tuple(r) for r in attrs]


HEAD = "loan_id,order_id,gse,status,closing_date,data_as_of,program\nL1,o1,,,,2026-05-01,va\n"
CSV_CASES = {
    # a data date in the future would never be corrected: it never moves backwards
    "far future": (HEAD + "L2,o2,,,,9999-12-31,\n", "row 3, column 'data_as_of'", "expected a time no later than"),
    "two days ahead": (HEAD + "L2,o2,,,,2026-06-07T12:00:01Z,\n", "row 3, column 'data_as_of'", "no later than"),
    "offset past the calendar": (
        HEAD + "L2,o2,,,,9999-12-31T23:00:00-05:00,\n",
        "row 3, column 'data_as_of'",
        "ISO-8601",
    ),
    "NUL in an id": (HEAD + "L2,o\x002,,,,,\n", "row 3, column 'order_id'", "expected text without NUL bytes"),
    "NUL in an attribute": (HEAD + "L2,o2,,,,,f\x00ha\n", "row 3, column 'program'", "without NUL bytes"),
    "loan_id past 128": (HEAD + "L" * 129 + ",o2,,,,,\n", "row 3, column 'loan_id'", "at most 128 characters, got 129"),
    "order_id past 64": (
        HEAD + "L2," + "o" * 65 + ",,,,,\n",
        "row 3, column 'order_id'",
        "at most 64 characters, got 65",
    ),
    "value past 512": (HEAD + "L2,o2,,,,," + "x" * 513 + "\n", "row 3, column 'program'", "at most 512 characters"),
    "column name past 128": (
        HEAD.replace("program", "p" * 129),
        "row 2, column 'ppppp",
        "expected a column name of at most 128 characters, got 129",
    ),
    # an opening quote never closed: strict CSV reports the end of the file instead of one huge field
    "quote left open": (HEAD + 'L2,"o2,,,,,\nL3,o3,,,,,\n', "row 3", 'unexpected end of data (a " quote left open?)'),
    # a quote closed rows later: three rows swallowed into one order_id
    "quote swallowing rows": (HEAD + 'L2,"o2\nL3,o3\nL4,o4",,,,,\n', "row 3, column 'order_id'", "on one line"),
    "131 KB field": (HEAD + "L2,o2,,,,," + "x" * 131_073 + "\n", "row 3", "field larger than field limit"),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_hostile_csv_is_refused_and_changes_nothing(db_url, clock, tmp_path, case):
    body, where, what = CSV_CASES[case]
    svc = services(db_url, clock, None)
    (tmp_path / "seed.csv").write_text(SEED)
    import_csv(svc, tmp_path / "seed.csv")
    before = state(svc)
    f = tmp_path / "loans.csv"
    f.write_text(body, encoding="utf-8")
    with pytest.raises(ImportFileError) as info:
        import_file(svc, f)
    message = str(info.value)
    assert message.startswith(f"{f}: {where}") and what in message, message
    assert "\n" not in message and len(message) < 400  # one line, never the swallowed file
    assert state(svc) == before


def test_a_day_of_clock_skew_is_accepted(db_url, clock, tmp_path):
    svc = services(db_url, clock, None)
    f = tmp_path / "loans.csv"
    f.write_text("loan_id,order_id,data_as_of\nL1,o1,2026-06-06T11:59:00Z\n")  # T0 + 23h59
    assert import_file(svc, f).rows == 1


BYTES_CASES = {
    "latin-1 CSV": ("loans.csv", "loan_id,order_id,name\nL1,o1,ok\nL2,o2,caf\xe9\n".encode("latin-1"), "row 3"),
    "UTF-16 CSV": ("loans.csv", "loan_id,order_id\nL1,o1\n".encode("utf-16"), "row 1"),
    "UTF-16 JSONL": ("loans.jsonl", '{"loan_id": "L1", "order_id": "o1"}\n'.encode("utf-16"), "row 1"),
}


@pytest.mark.parametrize("case", list(BYTES_CASES))
def test_text_that_is_not_utf8_is_refused(db_url, clock, tmp_path, case):
    name, data, where = BYTES_CASES[case]
    svc = services(db_url, clock, None)
    f = tmp_path / name
    f.write_bytes(data)
    with pytest.raises(ImportFileError, match=rf"{where}: not UTF-8 text \(byte 0x[0-9a-f]{{2}}\).*save it as UTF-8"):
        import_csv(svc, f)
    assert count(svc) == 0


JSONL_CASES = {
    "nested 100,000 deep": (
        '{"loan_id": "J2", "order_id": "o2", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "row 2",
        "nested too deeply",
    ),
    "an object as a value": (
        '{"loan_id": {"a": 1}, "order_id": "o2"}',
        "row 2, column 'loan_id'",
        "expected a single value",
    ),
    "a 5,000-digit number": ('{"loan_id": "J2", "order_id": ' + "9" * 5000 + "}", "row 2", "not valid JSON"),
    "NUL escaped in JSON": ('{"loan_id": "J2", "order_id": "o\\u00002"}', "row 2, column 'order_id'", "NUL"),
    "a line past 1 MiB": (
        '{"loan_id": "J2", "order_id": "o2", "x": "' + "y" * (1 << 20) + '"}',
        "row 2",
        "longer than",
    ),
    "future data_as_of": (
        '{"loan_id": "J2", "order_id": "o2", "data_as_of": "9999-12-31"}',
        "row 2, column 'data_as_of'",
        "no later",
    ),
}


@pytest.mark.parametrize("case", list(JSONL_CASES))
def test_hostile_jsonl_is_refused_and_changes_nothing(db_url, clock, tmp_path, case):
    line, where, what = JSONL_CASES[case]
    svc = services(db_url, clock, None)
    f = tmp_path / "loans.jsonl"
    f.write_text('{"loan_id": "J1", "order_id": "o1"}\n' + line + "\n")
    with pytest.raises(ImportFileError) as info:
        import_file(svc, f)
    assert str(info.value).startswith(f"{f}: {where}") and what in str(info.value), str(info.value)
    assert count(svc) == 0


def test_a_bad_row_after_batches_were_written_rolls_them_back(db_url, clock, tmp_path, monkeypatch):
    """On Postgres the first batches have gone through COPY and the upsert: the transaction still undoes them."""
    import monitor.store.loan_import as loans

    monkeypatch.setattr(loans, "BATCH", 2)
    monkeypatch.setattr(loans, "BATCH_POSTGRES", 2)
    svc = services(db_url, clock, None)
    f = tmp_path / "loans.csv"
    f.write_text("loan_id,order_id,data_as_of\n" + "".join(f"L{i},o{i},\n" for i in range(7)) + "L9,o9,9999-01-01\n")
    with pytest.raises(ImportFileError, match="row 9, column 'data_as_of'"):
        import_file(svc, f)
    assert count(svc) == 0


# -- full snapshots (issue 11, point 10) ----------------------------------------------------------


def seed_active(svc, tmp_path, clock, n: int = 10) -> None:
    f = tmp_path / "all.csv"
    f.write_text("loan_id,order_id\n" + "".join(f"L{i},o{i}\n" for i in range(n)))
    import_csv(svc, f)
    clock.advance(60)


def test_an_empty_snapshot_is_refused_unless_forced(db_url, clock, tmp_path):
    svc = services(db_url, clock, None)
    seed_active(svc, tmp_path, clock, 3)
    before = state(svc)
    f = tmp_path / "empty.csv"
    f.write_text("loan_id,order_id\n")
    with pytest.raises(ImportFileError, match=r"empty.csv: has no loans: .* would close every active loan \(3\)"):
        import_file(svc, f, full_snapshot=True)
    assert state(svc) == before
    assert import_file(svc, f, full_snapshot=True, force=True).closed == 3


def test_a_snapshot_closing_more_than_max_close_is_refused(db_url, clock, tmp_path):
    svc = services(db_url, clock, None)
    seed_active(svc, tmp_path, clock, 10)
    before = state(svc)
    f = tmp_path / "snap.csv"
    f.write_text("loan_id,order_id\n" + "".join(f"L{i},o{i}\n" for i in range(8)))  # closes 2 of 10
    with pytest.raises(ImportFileError) as info:
        import_file(svc, f, full_snapshot=True)
    assert "would close 2 of 10 active loans (20%), more than --max-close 10%" in str(info.value)
    assert state(svc) == before
    assert import_file(svc, f, full_snapshot=True, max_close=0.2).closed == 2  # at the limit: allowed


def test_a_snapshot_within_max_close_closes_the_absent(db_url, clock, tmp_path):
    svc = services(db_url, clock, None)
    seed_active(svc, tmp_path, clock, 10)
    f = tmp_path / "snap.csv"
    f.write_text("loan_id,order_id\n" + "".join(f"L{i},o{i}\n" for i in range(9)) + "N1,n1\n")
    result = import_file(svc, f, full_snapshot=True)  # 1 of 10 closed: exactly 10%
    assert (result.closed, result.inserted) == (1, 1)


def test_a_repeat_in_a_later_batch_is_found_in_the_database(db_url, clock, tmp_path, monkeypatch):
    """Only one batch's loan_ids are held in memory (issue 16): a repeat of an earlier batch's loan is
    found in the database, named by both rows, and nothing is imported; the next import is unaffected."""
    import monitor.store.loan_import as loans_module

    monkeypatch.setattr(loans_module, "BATCH", 2)
    monkeypatch.setattr(loans_module, "BATCH_POSTGRES", 2)
    svc = services(db_url, clock, None)
    f = tmp_path / "repeat.csv"
    f.write_text("loan_id,order_id\nL0,o0\nL1,o1\nL2,o2\nL3,o3\nL4,o4\nL1,o5\nL0,o6\n")
    with pytest.raises(ImportFileError) as info:
        import_csv(svc, f)
    assert str(info.value) == f"{f}: row 7, column 'loan_id': loan 'L1' repeats row 3"
    assert count(svc) == 0
    f.write_text("loan_id,order_id\nL0,o0\nL1,o1\nL2,o2\nL3,o3\nL4,o4\n")
    assert import_csv(svc, f).rows == 5
    assert import_csv(svc, f).updated == 5  # the same loans again are updates, not repeats
    assert count(svc) == 5


def test_an_earlier_batchs_repeat_wins_over_a_bad_row_read_after_it(db_url, clock, tmp_path, monkeypatch):
    """On Postgres a batch is loaded while the next is read: the repeat found in batch 2 is still the
    error, as when each batch was loaded before the next row was read, not the bad row in batch 3."""
    import monitor.store.loan_import as loans_module

    monkeypatch.setattr(loans_module, "BATCH", 2)
    monkeypatch.setattr(loans_module, "BATCH_POSTGRES", 2)
    svc = services(db_url, clock, None)
    f = tmp_path / "repeat.csv"
    f.write_text("loan_id,order_id,gse\nL0,o0,\nL1,o1,\nL2,o2,\nL0,o3,\nL4,o4,\nL5,o5,maybe\n")
    with pytest.raises(ImportFileError) as info:
        import_csv(svc, f)
    assert str(info.value) == f"{f}: row 5, column 'loan_id': loan 'L0' repeats row 2"
    assert count(svc) == 0


def test_tabs_backslashes_and_offsets_are_stored_as_read(db_url, clock, tmp_path, monkeypatch):
    """Postgres loads through COPY's text format, where a tab or a backslash means something."""
    import monitor.store.loan_import as loans_module

    monkeypatch.setattr(loans_module, "BATCH", 2)
    monkeypatch.setattr(loans_module, "BATCH_POSTGRES", 2)
    svc = services(db_url, clock, None)
    f = tmp_path / "loans.csv"
    f.write_text(
        HEADER
        + 'L\\1,o\\N,yes,,2026-07-01,2026-05-01T10:00:00+05:30,"F\tHA",\\N\n'
        + "L2,o2,,Closed,,2026-05-01,\\\\,\n"
        + "L3,o3,,,,,İ,x\n"
    )
    import_csv(svc, f)
    with session(svc.engine) as s:
        loans = {r.loan_id: r for r in s.execute(select(Loan)).scalars()}
        attrs = set(s.execute(select(LoanAttribute.loan_id, LoanAttribute.key, LoanAttribute.value)).all())
    assert sorted(loans) == ["L2", "L3", "L\\1"]
    assert loans["L\\1"].order_id == "o\\N" and loans["L\\1"].gse
    assert loans["L\\1"].data_as_of == datetime(2026, 5, 1, 4, 30, tzinfo=UTC)
    assert loans["L2"].status == "closed" and loans["L2"].data_as_of == datetime(2026, 5, 1, tzinfo=UTC)
    assert loans["L3"].closing_date is None and loans["L3"].data_as_of is None
    assert attrs == {
        ("L\\1", "program", "f\tha"),
        ("L\\1", "branch", "\\n"),
        ("L2", "program", "\\\\"),
        ("L3", "program", "i̇"),
        ("L3", "branch", "x"),
    }


def test_the_csv_fast_path_reads_rows_as_parse_row_does(tmp_path):
    """`read_rows` takes well-formed CSV rows without parse_row; each must be parse_row's LoanRow."""
    lines = [
        " L1 ,o1,TRUE,Active,2026-07-01,2026-05-01T10:00:00Z, FHA ,",
        "L2,o2,n,,20260702,2026-05-01T10:00:00.5-04:00,va,east",
        "L3,o3,,closed,,2026-05-01,,",
        "L4,o4,t,,,,İstanbul",
        "L5,o5",
    ]
    f = tmp_path / "loans.csv"
    f.write_text(HEADER + "\n".join(lines) + "\n")
    header = HEADER.strip().split(",")
    got = list(read_rows(f))
    rows = list(csv.reader(lines))
    expected = [
        parse_row(dict(itertools.zip_longest(header, values)), row=i, source=str(f))
        for i, values in enumerate(rows, start=2)
    ]
    assert got == expected
    assert got[1].data_as_of == datetime(2026, 5, 1, 14, 0, 0, 500000, tzinfo=UTC)
    assert got[4].attributes == {"program": "", "branch": ""}


def test_an_unchanged_import_says_unchanged_and_a_changed_field_is_an_update(db_url, clock, tmp_path):
    svc = services(db_url, clock, None)
    f = tmp_path / "loans.csv"
    f.write_text(HEADER + "L1,o1,true,active,2026-07-01,2026-05-01T10:00:00Z,FHA,east\nL2,o2,,,,,va,\n")
    first = import_csv(svc, f)
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    clock.advance(3600)
    again = import_csv(svc, f)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    clock.advance(3600)
    # L1 closes; L2 is as it was
    f.write_text(HEADER + "L1,o1,true,closed,2026-07-01,2026-05-01T10:00:00Z,FHA,east\nL2,o2,,,,,va,\n")
    changed = import_csv(svc, f)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 1)
    clock.advance(3600)
    # an older data date never moves the loan's back, so it changes nothing
    f.write_text(HEADER + "L1,o1,true,closed,2026-07-01,2026-04-01T10:00:00Z,FHA,east\nL2,o2,,,,,va,\n")
    older = import_csv(svc, f)
    assert (older.updated, older.unchanged) == (0, 2)
