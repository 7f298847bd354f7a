"""Repeated loan_ids: every one reported in one run, or one row of each kept by rule (issue 24, point 11)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.test_cli import monitor


def write_file(tmp_path):
    """L00..L24 each on rows 2 and 3 apart... 25 ids repeated; X1 three times; U1 once."""
    rows = ["loan_id,order_id"]
    for i in range(25):
        rows.append(f"L{i:02d},first-{i}")
    rows.append("X1,x-first")
    rows.append("U1,u-only")
    for i in range(25):
        rows.append(f"L{i:02d},last-{i}")
    rows += ["X1,x-middle", "X1,x-last"]
    (tmp_path / "loans.csv").write_text("\n".join(rows) + "\n")


def loans(db_url) -> dict[str, str]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT loan_id, order_id FROM loan")).all())
    finally:
        engine.dispose()


@pytest.fixture
def upgraded(db_url, tmp_path):
    assert monitor("--database", db_url, "db", "upgrade", cwd=tmp_path).returncode == 0
    write_file(tmp_path)
    return db_url


def test_every_repeat_is_reported_in_one_run_and_nothing_is_imported(upgraded, tmp_path):
    done = monitor("--database", upgraded, "loans", "import", "loans.csv", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: loans.csv: column 'loan_id': 26 loan ids repeat on 27 more rows: 'L00' rows 2, 29;")
    assert "'X1' rows" not in line  # the 26th in file order: past the first 20
    assert line.count(" rows ") == 20 and "(the first 20 shown)" in line and "--dedupe first|last" in line
    assert loans(upgraded) == {}


@pytest.mark.parametrize("rule", ["first", "last"])
def test_dedupe_keeps_one_row_of_each_and_says_how_many_were_dropped(upgraded, tmp_path, rule):
    done = monitor("--database", upgraded, "loans", "import", "loans.csv", "--dedupe", rule, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["rows"], out["dropped"], out["dedupe"]) == (27, 27, rule)
    kept = loans(upgraded)
    assert len(kept) == 27 and kept["U1"] == "u-only"
    assert (kept["L07"], kept["X1"]) == ((f"{rule}-7", f"x-{rule}"))
    text_out = monitor("--database", upgraded, "loans", "import", "loans.csv", "--dedupe", rule, cwd=tmp_path)
    assert f"27 repeated rows dropped, the {rule} of each kept" in text_out.stdout


def test_dedupe_takes_only_first_or_last(tmp_path):
    write_file(tmp_path)
    done = monitor("loans", "import", "loans.csv", "--dedupe", "middle", cwd=tmp_path)
    assert done.returncode == 2 and "expected first or last, got 'middle'" in done.stderr
