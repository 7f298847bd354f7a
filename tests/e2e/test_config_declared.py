"""Mistakes caught early (issue 14, point 5) and `monitor init` (point 13), as an operator meets them.

A column beyond the known ones imports only when jobs.yaml declares it (`loans: {attributes: [...]}`):
a misspelt `closing_dt` imported as an attribute used to switch the pre-closing rule off silently. A
`match` key must be a loan field or a declared attribute, and `gse` takes true or false only.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from monitor.config import parse_config
from tests.e2e.test_cli import monitor

POLICY = """\
loans: {attributes: [program]}
policies:
  - {name: fha, match: {program: [FHA]}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [fha]}
"""
LOANS = "loan_id,order_id,gse,closing_date,data_as_of,program\n"


def error_line(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def loans_in(db: Path) -> list[tuple[str, ...]]:
    if not db.exists():
        return []
    with closing(sqlite3.connect(db)) as conn:
        if not conn.execute("select 1 from sqlite_master where name = 'loan'").fetchone():
            return []
        return [tuple(r) for r in conn.execute("select loan_id, order_id from loan order by 1")]


def attributes_in(db: Path) -> list[tuple[str, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return [tuple(r) for r in conn.execute("select loan_id, key, value from loan_attribute order by 1, 2")]


def test_a_misspelt_header_is_refused_with_did_you_mean_and_nothing_imported(tmp_path):
    (tmp_path / "jobs.yaml").write_text(POLICY)
    (tmp_path / "good.csv").write_text(LOANS + "L1,o1,false,2026-03-02,2026-01-01,fha\n")
    assert monitor("loans", "import", "good.csv", cwd=tmp_path).returncode == 0
    (tmp_path / "typo.csv").write_text(
        "loan_id,order_id,gse,closing_dt,program\nL2,o2,false,2026-03-02,fha\nL1,o9,false,2026-03-02,va\n"
    )
    line = error_line(monitor("loans", "import", "typo.csv", cwd=tmp_path))
    assert line.startswith(
        "error: typo.csv: row 1 (header), column 'closing_dt': unknown column; did you mean 'closing_date'? "
        "Nothing was imported"
    ), line
    assert "attributes jobs.yaml declares: program" in line
    assert loans_in(tmp_path / "monitor.db") == [("L1", "o1")]


def test_a_misspelt_jsonl_key_names_its_row(tmp_path):
    (tmp_path / "jobs.yaml").write_text(POLICY)
    (tmp_path / "loans.jsonl").write_text(
        '{"loan_id": "J1", "order_id": "o1", "program": "fha"}\n{"loan_id": "J2", "order_id": "o2", "progam": "va"}\n'
    )
    line = error_line(monitor("loans", "import", "loans.jsonl", cwd=tmp_path))
    assert line.startswith("error: loans.jsonl: row 2, column 'progam': unknown column; did you mean 'program'?"), line
    assert loans_in(tmp_path / "monitor.db") == []


def test_an_undeclared_column_says_exactly_what_to_add(tmp_path):
    """A jobs.yaml written before `loans:` existed, and a file with extra columns: the fix is spelt out."""
    (tmp_path / "jobs.yaml").write_text(
        POLICY.replace("loans: {attributes: [program]}\n", "").replace("match: {program: [FHA]}", "match: {}")
    )
    (tmp_path / "loans.csv").write_text("loan_id,order_id,program,branch\nL1,o1,fha,12\n")
    line = error_line(monitor("loans", "import", "loans.csv", cwd=tmp_path))
    assert line.startswith("error: loans.csv: row 1 (header), columns 'program', 'branch': not a loan field"), line
    assert "add to jobs.yaml: `loans: {attributes: [program, branch]}`" in line
    assert loans_in(tmp_path / "monitor.db") == []
    # ... and with no jobs.yaml at all, the way to write one
    (tmp_path / "jobs.yaml").unlink()
    line = error_line(monitor("loans", "import", "loans.csv", cwd=tmp_path))
    assert "(jobs.yaml does not exist: `monitor init --from loans.csv` writes one)" in line


def test_a_declared_attribute_imports_and_matches(tmp_path):
    (tmp_path / "jobs.yaml").write_text(POLICY)
    (tmp_path / "loans.csv").write_text(
        LOANS + "L1,o1,false,,2026-01-01,fha\nL2,o2,false,,2026-01-01,va\nL3,o3,true,,2026-01-01,FHA\n"
    )
    done = monitor("loans", "import", "loans.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert attributes_in(tmp_path / "monitor.db") == [
        ("L1", "program", "fha"),
        ("L2", "program", "va"),
        ("L3", "program", "fha"),
    ]
    plan = monitor("plan", "--json", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["stale_total"] == 2  # L1 and L3: FHA compares case-insensitively, L2 is va


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            "match: {progam: [fha]}",
            "policies[0].match.progam (line 3): unknown match key 'progam'; did you mean 'program'?",
        ),
        ('match: {gse: "yes"}', "policies[0].match.gse (line 3): expected true or false (unquoted), got 'yes'"),
        (
            "match: {gse: yes please}",
            "policies[0].match.gse (line 3): expected true or false (unquoted), got 'yes please'",
        ),
        ("match: {status: open}", "policies[0].match.status (line 3): expected active or closed, got 'open'"),
        ("match: {branch: 12}", "policies[0].match.branch (line 3): unknown match key 'branch': not a loan field"),
        ("prodcut: income", "policies[0].prodcut (line 3): unknown key 'prodcut'; did you mean 'product'?"),
    ],
    ids=["match-key-typo", "gse-yes", "gse-yes-please", "status", "undeclared", "config-key-typo"],
)
def test_check_config_refuses_what_would_match_nothing(tmp_path, policy, expected):
    text = POLICY.replace("match: {program: [FHA]}, product: income", f"product: income, {policy}")
    if policy.startswith("prodcut"):
        text = POLICY.replace("product: income", policy)
    (tmp_path / "jobs.yaml").write_text(text)
    line = error_line(monitor("check-config", cwd=tmp_path))
    assert line.startswith(f"error: jobs.yaml: {expected}"), line


def test_a_misspelt_section_gets_did_you_mean(tmp_path):
    (tmp_path / "jobs.yaml").write_text(POLICY.replace("loans:", "loan:"))
    line = error_line(monitor("check-config", cwd=tmp_path))
    assert line.startswith("error: jobs.yaml: loan (line 1): unknown key 'loan'; did you mean 'loans'?"), line


def test_init_writes_a_commented_file_that_check_config_accepts(tmp_path):
    (tmp_path / "loans.csv").write_text(LOANS.replace("program", "program,yes,branch code") + "L1,o1,,,,fha,y,12 a\n")
    done = monitor("init", "--from", "loans.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = (tmp_path / "jobs.yaml").read_text()
    for section in ("database:", "truv:", "budgets:", "loans:", "policies:", "jobs:"):
        assert f"\n{section}" in written
    assert written.count("#") > 20  # commented: a starting point to read, not a bare dump
    assert parse_config(written).loans.attributes == ["program", "yes", "branch code"]
    assert monitor("check-config", cwd=tmp_path).returncode == 0
    imported = monitor("loans", "import", "loans.csv", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert ("L1", "branch code", "12 a") in attributes_in(tmp_path / "monitor.db")

    # an existing file is left alone unless --force
    (tmp_path / "jobs.yaml").write_text(POLICY)
    line = error_line(monitor("init", cwd=tmp_path))
    assert line == "error: jobs.yaml: already exists; nothing was written (pass --force to overwrite it)"
    assert (tmp_path / "jobs.yaml").read_text() == POLICY
    assert monitor("init", "--force", cwd=tmp_path).returncode == 0
    assert parse_config((tmp_path / "jobs.yaml").read_text()).loans.attributes == []


def test_init_from_jsonl_to_another_path(tmp_path):
    (tmp_path / "loans.jsonl").write_text(
        '{"loan_id": "J1", "order_id": "o1", "tier": 2}\n{"loan_id": "J2", "order_id": "o2", "region": "NE"}\n'
    )
    done = monitor("init", "--from", "loans.jsonl", "--out", "mine.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "jobs.yaml").exists()
    assert parse_config((tmp_path / "mine.yaml").read_text()).loans.attributes == ["tier", "region"]
    assert monitor("--config", "mine.yaml", "loans", "import", "loans.jsonl", cwd=tmp_path).returncode == 0


def test_shell_completion_is_available(tmp_path):
    shown = monitor("--show-completion", "bash", cwd=tmp_path)
    assert shown.returncode == 0 and "_MONITOR_COMPLETE" in shown.stdout, shown.stderr
    completed = monitor(
        "in", cwd=tmp_path, env={"_MONITOR_COMPLETE": "complete_bash", "COMP_WORDS": "monitor in", "COMP_CWORD": "1"}
    )
    assert completed.stdout.split() == ["init"]


def test_init_refuses_a_near_miss_of_a_known_column_unless_told(tmp_path):
    (tmp_path / "loans.csv").write_text("loan_id,order_id,gse,closing_dt,program\nL1,o1,true,2026-12-20,fha\n")
    line = error_line(monitor("init", "--from", "loans.csv", cwd=tmp_path))
    assert line.startswith("error: loans.csv: row 1 (header), column 'closing_dt': did you mean 'closing_date'?"), line
    assert "--declare-near-misses" in line
    assert not (tmp_path / "jobs.yaml").exists()  # nothing written
    done = monitor("init", "--from", "loans.csv", "--declare-near-misses", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert parse_config((tmp_path / "jobs.yaml").read_text()).loans.attributes == ["closing_dt", "program"]
