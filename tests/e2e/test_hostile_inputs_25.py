"""Hostile input through the installed `monitor` command (issue 25, points 6, 10, 15).

Every bad input: exit 2, one `error:` line naming the file (or option), row and column where there is
one, no traceback, and the database as it was; a value already stored never crashes an output.
"""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import update

from monitor.store.db import make_engine, session
from monitor.store.tables import Loan
from monitor.webhooks.receiver import create_app
from tests.e2e.test_hostile_input import GOOD, monitor, one_error_line, seeded, snapshot
from tests.e2e.test_webhooks_hostile import SECRET, serving
from tests.helpers import config, services

__all__ = ["seeded"]  # the fixture, imported for its use below

# -- 6: dates out of any loan's range ------------------------------------------------------------------

DATES = {
    "year 1": ("closing_date", "0001-01-05", "expected a date between 1900-01-01 and 2200-12-31, got '0001-01-05'"),
    "year 9999": ("closing_date", "9999-12-31", "expected a date between 1900-01-01 and 2200-12-31, got '9999-12-31'"),
    "1899": ("closing_date", "1899-12-31", "expected a date between 1900-01-01 and 2200-12-31, got '1899-12-31'"),
    "data year 1": ("data_as_of", "0001-01-01", "expected a time after 1900-01-01, got '0001-01-01'"),
    "data next year": ("data_as_of", "2999-01-01", "expected a time no later than"),
}


@pytest.mark.parametrize("case", list(DATES))
@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_date_out_of_range_is_refused_naming_row_and_column(seeded, tmp_path, case, suffix):
    column, value, message = DATES[case]
    name = f"dates.{suffix}"
    if suffix == "csv":
        (tmp_path / name).write_text(f"loan_id,order_id,{column}\nL4,o4,\nL5,o5,{value}\n")
    else:
        (tmp_path / name).write_text(
            '{"loan_id": "L4", "order_id": "o4"}\n' + f'{{"loan_id": "L5", "order_id": "o5", "{column}": "{value}"}}\n'
        )
    (tmp_path / "jobs.yaml").write_text(GOOD)
    before = snapshot(seeded)
    line = one_error_line(monitor("--database", seeded, "loans", "import", name, cwd=tmp_path))
    row = 3 if suffix == "csv" else 2  # the CSV header is row 1; a JSONL file's rows are its lines
    assert line.startswith(f"error: {name}: row {row}, column '{column}': {message}"), line
    assert snapshot(seeded) == before


@pytest.mark.parametrize("stored", ["0001-01-01", "0001-01-05", "9999-12-31"])
def test_a_stored_date_out_of_range_never_crashes_the_report(seeded, tmp_path, stored):
    from datetime import date

    engine = make_engine(seeded)
    with session(engine) as s:
        s.execute(update(Loan).where(Loan.loan_id == "L1").values(closing_date=date.fromisoformat(stored)))
    engine.dispose()
    (tmp_path / "jobs.yaml").write_text(GOOD)
    for out in ("r.csv", "r.html"):
        args = ("--database", seeded, "report", "--from", "2026-01-01", "--to", "2026-12-31", "--out", out)
        result = monitor(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert (tmp_path / out).stat().st_size > 0
    for args in (("loans", "show", "L1"),):
        result = monitor("--database", seeded, *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "L1" in result.stdout


# -- 10: control characters in ids and attributes --------------------------------------------------------

CONTROLS = {
    "ESC": "\x1b[2J\x1b]0;owned\x07",
    "BEL": "L\x07",
    "C1 CSI": "L\x9b31m",
    "NEL": "L\x85x",
    "line separator": "L\u2028x",
    "paragraph separator": "L\u2029x",
}
RAW = ("\x1b", "\x07", "\x9b", "\x85", "\u2028", "\u2029")


@pytest.mark.parametrize("case", list(CONTROLS))
@pytest.mark.parametrize("column", ["loan_id", "order_id"])
def test_a_control_character_in_an_id_is_refused(seeded, tmp_path, case, column):
    value = CONTROLS[case]
    ids = {"loan_id": "L5", "order_id": "o5", column: value}
    import json

    (tmp_path / "ids.jsonl").write_text(
        '{"loan_id": "L4", "order_id": "o4"}\n' + json.dumps(ids) + "\n", encoding="utf-8"
    )
    before = snapshot(seeded)
    line = one_error_line(monitor("--database", seeded, "loans", "import", "ids.jsonl", cwd=tmp_path))
    assert line.startswith(f"error: ids.jsonl: row 2, column '{column}': expected an id without control characters"), (
        line
    )
    assert not any(ch in line for ch in RAW), line
    assert snapshot(seeded) == before


def test_stored_control_characters_reach_the_terminal_escaped(seeded, tmp_path):
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from monitor.store.tables import LoanAttribute

    now = datetime.now(UTC)
    hostile = "X\x1b[2J\x07\x9b31m\x85\u2028\u2029"
    engine = make_engine(seeded)
    with session(engine) as s:
        s.execute(
            insert(Loan).values(
                loan_id=hostile, order_id="o\x1b]0;t\x07", status="active", imported_at=now, updated_at=now
            )
        )
        s.execute(update(LoanAttribute).where(LoanAttribute.loan_id == "L1").values(value="fha\x1b[31m\u2028"))
    engine.dispose()
    (tmp_path / "jobs.yaml").write_text(GOOD)
    for args in (("loans", "list"), ("loans", "show", hostile), ("loans", "show", "L1")):
        result = monitor("--database", seeded, *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        leaked = [ch for ch in RAW if ch in result.stdout + result.stderr]
        assert not leaked, (args, leaked)
    assert "\\x1b[2J" in monitor("--database", seeded, "loans", "list", cwd=tmp_path).stdout


# -- 15: clean errors, not tracebacks ---------------------------------------------------------------------


@pytest.mark.parametrize("command", [["loans", "list"], ["ledger"], ["plan", "--json"]])
def test_a_limit_past_any_integer_column_exits_2_on_one_line(tmp_path, command):
    (tmp_path / "jobs.yaml").write_text(GOOD)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    result = monitor("--database", url, *command, "--limit", "100000000000000000000", cwd=tmp_path)
    one_error_line(result, prefix="Error: Invalid value for '--limit'")


def test_a_repeated_jsonl_key_is_refused_naming_line_and_key(seeded, tmp_path):
    (tmp_path / "jobs.yaml").write_text(GOOD)
    (tmp_path / "rep.jsonl").write_text(
        '{"loan_id": "L4", "order_id": "o4"}\n{"loan_id": "L5", "order_id": "o5", "order_id": "o6"}\n'
    )
    before = snapshot(seeded)
    line = one_error_line(monitor("--database", seeded, "loans", "import", "rep.jsonl", cwd=tmp_path))
    assert line == "error: rep.jsonl: row 2, column 'order_id': repeated key: say it once", line
    assert snapshot(seeded) == before


def test_importing_a_folder_exits_2_on_one_line(tmp_path):
    (tmp_path / "jobs.yaml").write_text(GOOD)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    line = one_error_line(monitor("--database", url, "loans", "import", "/etc", cwd=tmp_path))
    assert line == "error: /etc: not a file; give a .csv or .jsonl file", line


@pytest.mark.parametrize("out", ["/proc/self/mem", "/proc/1/nonexistent/report.json"])
def test_a_report_path_that_cannot_take_a_file_exits_2_on_one_line(seeded, tmp_path, out):
    (tmp_path / "jobs.yaml").write_text(GOOD)
    result = monitor(
        "--database", seeded, "report", "--from", "2026-01-01", "--to", "2026-01-31", "--out", out, cwd=tmp_path
    )
    line = one_error_line(result)
    assert line.startswith(f"error: --out: cannot write {out}: "), line
    assert not list(tmp_path.glob("*.tmp"))


# -- 15: the documented 16 KiB head limit is the real one -----------------------------------------------


def _head(port: int, padding: int) -> bytes:
    """A request whose head carries `padding` bytes of one header, sent in a single write (one read
    for the server: h11's own limit only sees heads that arrive across reads)."""
    head = f"GET /healthz HTTP/1.1\r\nHost: r\r\nX-Pad: {'a' * padding}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_a_request_head_over_16_kib_is_refused_with_431_and_one_under_it_served(sqlite_url, clock):
    svc = services(sqlite_url, clock, None, config())
    with serving(create_app(svc, secret=SECRET)) as port:
        assert _head(port, 15 * 1024).startswith(b"HTTP/1.1 200"), "a 15 KiB head is within the limit"
        refused = _head(port, 20 * 1024)
        assert refused.startswith(b"HTTP/1.1 431"), refused[:40]
        assert b"16 KiB" in refused
        assert _head(port, 100).startswith(b"HTTP/1.1 200"), "the server still answers"
