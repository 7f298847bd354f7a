"""Hostile and broken input through the installed `monitor` command (issue 11, points 9, 10, 13, 14, 15).

Every bad input: exit 2, one `error:` line naming the file (or option), row and column where there is
one, no traceback, no secret echoed, and the database as it was, on SQLite and on Postgres.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.clock import SystemClock
from monitor.loans_file import read_rows
from monitor.store.db import make_engine, session, upgrade
from monitor.store.loan_import import import_loans
from monitor.store.tables import Loan, LoanAttribute

GOOD = """\
policies:
  - {name: income-30d, match: {}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d]}
loans: {attributes: [program, branch]}
"""
SEED = "loan_id,order_id,gse,data_as_of,program\nL1,o1,true,2026-01-05,fha\nL2,o2,,,va\nL3,o3,,,va\n"


def monitor(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m monitor` as cron would run it, under the usual 022 umask."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUV_", "MONITOR_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )


def one_error_line(result: subprocess.CompletedProcess[str], prefix: str = "error: ") -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def snapshot(url: str) -> tuple[list[tuple], list[tuple]]:
    engine = make_engine(url)
    with session(engine) as s:
        loans = s.execute(select(Loan.loan_id, Loan.order_id, Loan.status, Loan.data_as_of).order_by(Loan.loan_id))
        attrs = s.execute(select(LoanAttribute.loan_id, LoanAttribute.key, LoanAttribute.value).order_by("loan_id"))
        out = [tuple(r) for r in loans], [tuple(r) for r in attrs]
    engine.dispose()
    return out


@pytest.fixture
def seeded(db_url, tmp_path) -> str:
    """A database (Postgres upgraded as an operator would) holding three active loans."""
    engine = make_engine(db_url)
    upgrade(engine)
    (tmp_path / "seed.csv").write_text(SEED)
    with session(engine) as s:
        import_loans(s, read_rows(tmp_path / "seed.csv"), now=SystemClock().now(), full_snapshot=False, source="seed")
    engine.dispose()
    return db_url


# -- 9: import files -------------------------------------------------------------------------------

HEAD = "loan_id,order_id,data_as_of,program\nL4,o4,,fha\n"
IMPORTS = {
    "future.csv": (HEAD + "L5,o5,9999-12-31,\n", "row 3, column 'data_as_of': expected a time no later than"),
    "nul.csv": (HEAD + "L5,o\x005,,\n", "row 3, column 'order_id': expected text without NUL bytes, got 'o\\x005'"),
    "long.csv": (
        HEAD + "L5,o5,," + "x" * 600 + "\n",
        "row 3, column 'program': expected at most 512 characters, got 600",
    ),
    "quote.csv": (HEAD + 'L5,"o5,,\nL6,o6,,\n', 'row 3: not valid CSV: unexpected end of data (a " quote left open?)'),
    "big.csv": (
        HEAD + "L5,o5,," + "x" * 131_073 + "\n",
        "row 3: not valid CSV: field larger than field limit (131072)",
    ),
    "deep.jsonl": (
        '{"loan_id": "J1", "order_id": "o1"}\n{"x": ' + "[" * 50_000 + "]" * 50_000 + "}\n",
        "row 2: not valid JSON (nested too deeply)",
    ),
}


@pytest.mark.parametrize("name", list(IMPORTS))
def test_hostile_import_exits_2_and_changes_nothing(seeded, tmp_path, name):
    body, message = IMPORTS[name]
    (tmp_path / name).write_text(body)
    (tmp_path / "jobs.yaml").write_text(GOOD)  # declares the files' attribute columns
    before = snapshot(seeded)
    line = one_error_line(monitor("--database", seeded, "loans", "import", name, cwd=tmp_path))
    assert line.startswith(f"error: {name}: {message}"), line
    assert snapshot(seeded) == before


def test_an_import_that_is_not_utf8_exits_2(seeded, tmp_path):
    (tmp_path / "latin1.csv").write_bytes("loan_id,order_id,branch\nL4,o4,Montr\xe9al\n".encode("latin-1"))
    (tmp_path / "jobs.yaml").write_text(GOOD)
    before = snapshot(seeded)
    line = one_error_line(monitor("--database", seeded, "loans", "import", "latin1.csv", cwd=tmp_path))
    assert line == "error: latin1.csv: row 2: not UTF-8 text (byte 0xe9); save it as UTF-8"
    assert snapshot(seeded) == before


# -- 10: full snapshots ----------------------------------------------------------------------------


def test_an_empty_snapshot_is_refused_unless_forced(seeded, tmp_path):
    (tmp_path / "empty.csv").write_text("loan_id,order_id\n")
    before = snapshot(seeded)
    line = one_error_line(
        monitor("--database", seeded, "loans", "import", "empty.csv", "--full-snapshot", cwd=tmp_path)
    )
    assert line == (
        "error: empty.csv: has no loans: as a --full-snapshot it would close every active loan (3); "
        "nothing was changed (pass --force if that is meant)"
    )
    assert snapshot(seeded) == before
    forced = monitor("--database", seeded, "loans", "import", "empty.csv", "--full-snapshot", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "3 closed as absent" in forced.stdout, forced.stderr


def test_a_snapshot_closing_too_many_is_refused_with_the_count(seeded, tmp_path):
    (tmp_path / "snap.csv").write_text("loan_id,order_id\nL1,o1\n")  # would close L2 and L3
    before = snapshot(seeded)
    args = ("--database", seeded, "loans", "import", "snap.csv", "--full-snapshot")
    line = one_error_line(monitor(*args, cwd=tmp_path))
    assert "would close 2 of 3 active loans (67%), more than --max-close 10%; nothing was changed" in line
    assert snapshot(seeded) == before
    assert monitor(*args, "--max-close", "50", cwd=tmp_path).returncode == 2
    allowed = monitor(*args, "--max-close", "70", cwd=tmp_path)
    assert allowed.returncode == 0 and "2 closed as absent" in allowed.stdout, allowed.stderr


# -- 13: jobs.yaml -----------------------------------------------------------------------------------


def test_an_alias_bomb_fails_fast(tmp_path):
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
    (tmp_path / "jobs.yaml").write_text("\n".join(levels) + "\n")
    started = time.monotonic()
    line = one_error_line(monitor("check-config", cwd=tmp_path))
    assert time.monotonic() - started < 10  # interpreter start included; 30 s and 2.7 GB before
    assert line == "error: jobs.yaml: b[0] (line 2): a YAML alias (*name) is not allowed here: write the value out"


def test_a_repeated_key_and_a_utf16_file_exit_2(tmp_path):
    (tmp_path / "jobs.yaml").write_text(GOOD.replace("max_age: 30d}", "max_age: 30d, max_age: 1d}"))
    assert one_error_line(monitor("check-config", cwd=tmp_path)) == (
        "error: jobs.yaml: policies[0].max_age (line 2): repeated key (first on line 2): say it once"
    )
    (tmp_path / "jobs.yaml").write_bytes(GOOD.encode("utf-16"))
    assert one_error_line(monitor("check-config", cwd=tmp_path)) == (
        "error: jobs.yaml: line 1: not UTF-8 text (byte 0xff) (it looks like UTF-16); save it as UTF-8"
    )


# -- 14: option values and database URLs -------------------------------------------------------------

OPTIONS = {
    "report to 9999": (
        ["report", "--from", "2026-01-01", "--to", "9999-12-31"],
        "error: --to: expected a date between 1970-01-01 and 2999-12-31, got '9999-12-31'",
    ),
    "negative limit": (["ledger", "--limit", "-1"], "Error: Invalid value for '--limit'"),
    "negative wait": (["run", "--wait", "-5"], "Error: Invalid value for '--wait'"),
    "negative pre-closing days": (
        ["report", "--from", "2026-01-01", "--to", "2026-01-02", "--pre-closing-days", "-3"],
        "Error: Invalid value for '--pre-closing-days'",
    ),
    "unknown log level": (
        ["--log-level", "loud", "ledger"],
        "Error: Invalid value for '--log-level': expected debug, info, warning or error, got 'loud'",
    ),
    "unknown log format": (["--log-format", "xml", "ledger"], "Error: Invalid value for '--log-format'"),
    "report into a folder": (
        ["report", "--from", "2026-01-01", "--to", "2026-01-02", "--out", "."],
        "error: --out: . is a folder; give a file name",
    ),
}


@pytest.mark.parametrize("case", list(OPTIONS))
def test_bad_option_values_exit_2_on_one_line(tmp_path, case):
    args, start = OPTIONS[case]
    line = one_error_line(monitor(*args, cwd=tmp_path), prefix=start)
    assert "(see 'monitor" in line or line.startswith("error:")


def test_a_group_alone_still_prints_its_help(tmp_path):
    result = monitor("loans", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("Usage: monitor loans") and "import" in result.stderr


def test_a_report_into_a_missing_folder_creates_it(tmp_path):
    done = monitor("report", "--from", "2026-01-01", "--to", "2026-01-31", "--out", "reports/jan.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "reports" / "jan.html").is_file()


URLS = {
    "sqlite://": "error: --database: no database file: expected a URL like sqlite:///monitor.db",
    "sqlite:///:memory:": "error: --database: no database file",
    "postgresql://monitor:hunter2@db:port/monitor": "error: --database: not a database URL: expected a URL like",
    "postgresql://monitor:hunter2@db:70000/monitor": "error: --database: port 70000 is out of range",
    "mysql://monitor:hunter2@db/monitor": "error: --database: unsupported database 'mysql'",
    "postgresql+asyncpg://monitor:hunter2@db/monitor": "error: --database: unsupported driver 'asyncpg'",
    "no url at all": "error: --database: not a database URL",
}


@pytest.mark.parametrize("url", list(URLS))
def test_malformed_database_urls_exit_2_with_the_password_masked(tmp_path, url):
    line = one_error_line(monitor("--database", url, "ledger", cwd=tmp_path))
    assert line.startswith(URLS[url]), line
    assert "hunter2" not in line
    if "hunter2" in url:
        assert "monitor:***@db" in line
    assert not (tmp_path / "monitor.db").exists()


def test_a_yaml_file_as_the_database_is_refused_untouched(tmp_path):
    (tmp_path / "jobs.yaml").write_text(GOOD)
    line = one_error_line(monitor("--database", "sqlite:///jobs.yaml", "ledger", cwd=tmp_path))
    assert line == "error: --database: jobs.yaml is not a database (not a SQLite file); check --database"
    assert (tmp_path / "jobs.yaml").read_text() == GOOD


def test_the_url_and_secrets_can_come_from_files(tmp_path):
    (tmp_path / "url").write_text(f"sqlite:///{tmp_path / 'from-file.db'}\n")
    (tmp_path / "loans.csv").write_text(SEED)
    (tmp_path / "jobs.yaml").write_text(GOOD)
    done = monitor(
        "loans", "import", "loans.csv", cwd=tmp_path, env={"MONITOR_DATABASE_URL_FILE": str(tmp_path / "url")}
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "from-file.db").exists() and not (tmp_path / "monitor.db").exists()
    missing = monitor("ledger", cwd=tmp_path, env={"TRUV_SECRET_FILE": str(tmp_path / "nope")})
    assert one_error_line(missing).startswith("error: environment: TRUV_SECRET_FILE: cannot read ")


def test_a_password_on_the_command_line_is_warned_about_never_logged(tmp_path, pg_url):
    url = pg_url.replace("postgres@", "postgres:hunter2@")  # trust auth: the password is ignored
    done = monitor("--log-format", "json", "--database", url, "db", "upgrade", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "database_password_on_command_line" in done.stderr and "MONITOR_DATABASE_URL_FILE" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


# -- 15: files holding PII are the owner's only ------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_reports_are_created_0600_under_umask_022(tmp_path):
    (tmp_path / "loans.csv").write_text(SEED)
    (tmp_path / "jobs.yaml").write_text(GOOD)
    assert monitor("loans", "import", "loans.csv", cwd=tmp_path).returncode == 0
    assert mode(tmp_path / "monitor.db") == 0o600
    for fmt, name in (("html", "r.html"), ("csv", "r.csv"), ("json", "r.json")):
        done = monitor(
            "report",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--format",
            fmt,
            "--out",
            f"out/{name}",
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "out") == 0o700
    written = sorted((tmp_path / "out").iterdir())
    names = ["r-changes.csv", "r-exceptions.csv", "r-preclosing.csv", "r.csv", "r.html", "r.json"]
    assert [p.name for p in written] == names
    assert {p.name: mode(p) for p in written} == {p.name: 0o600 for p in written}


def test_wal_and_shm_files_take_the_database_mode(tmp_path):
    """In-process (no CLI umask): the file is created 0600 first, and SQLite gives -wal and -shm its mode."""
    old = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'm.db'}")
        upgrade(engine)
        with session(engine) as s:  # hold a connection open: the -wal and -shm files exist while it does
            s.execute(select(func.count()).select_from(Loan))
            files = {p.name: mode(p) for p in (tmp_path / "data").iterdir()}
        engine.dispose()
    finally:
        os.umask(old)
    assert files == {"m.db": 0o600, "m.db-wal": 0o600, "m.db-shm": 0o600}
    assert mode(tmp_path / "data") == 0o700
