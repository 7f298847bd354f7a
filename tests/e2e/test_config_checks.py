"""What check-config and plan say about a jobs.yaml that is valid but will not do what it says
(issue 24, points 10 and 12), on SQLite and Postgres."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_cli import monitor

REACH = """\
loans: {attributes: [city]}
policies:
  - {name: austin, match: {city: Austin}, product: income, max_age: 30d}
  - {name: austn, match: {city: Austn}, product: income, max_age: 30d}
  - {name: gse-dallas, match: {gse: true, city: Dallas}, product: income, max_age: 30d}
  - {name: everyone, match: {}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [austin, austn, gse-dallas, everyone]}
"""


@pytest.fixture
def imported(db_url, tmp_path):
    (tmp_path / "jobs.yaml").write_text(REACH)
    rows = ["loan_id,order_id,gse,city"] + [f"L{i},o{i},{'true' if i < 3 else 'false'},Austin" for i in range(6)]
    rows += [f"D{i},p{i},false,Dallas" for i in range(2)]
    (tmp_path / "loans.csv").write_text("\n".join(rows) + "\n")
    for args in (["db", "upgrade"], ["loans", "import", "loans.csv"]):
        done = monitor("--database", db_url, *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    return db_url


def test_a_policy_that_matches_no_loan_is_a_warning_in_check_config_and_plan(imported, tmp_path):
    checked = monitor("--database", imported, "check-config", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    warnings = [line for line in checked.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, checked.stderr
    typo, combo = warnings
    assert "policy austn matches none of the 8 active loans" in typo
    assert "match.city 'Austn' matches none" in typo and "'austin' (6 loans)" in typo.lower()
    assert "policy gse-dallas" in combo and "no loan matches all of them" in combo
    planned = monitor("--database", imported, "plan", "--json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    found = json.loads(planned.stdout)["warnings"]
    assert [w for w in found if w.startswith("policy ")] == [
        typo.removeprefix("warning: "),
        combo.removeprefix("warning: "),
    ]


def test_check_config_without_a_database_creates_none(tmp_path):
    (tmp_path / "jobs.yaml").write_text(REACH)
    checked = monitor("check-config", cwd=tmp_path)
    assert checked.returncode == 0 and "warning" not in checked.stderr, checked.stderr
    assert not (tmp_path / "monitor.db").exists()


# -- loans list and ledger options (point 12) -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["loans", "list", "--reason", "tokn_budget"],
            "unknown skip reason 'tokn_budget'; did you mean 'token_budget'?",
        ),
        (["loans", "list", "--reason", "xyzzy"], "unknown skip reason 'xyzzy' (reasons: token_budget,"),
        (["loans", "list", "--limit", "0"], "--limit"),
        (["ledger", "--limit", "0"], "--limit"),
    ],
    ids=["reason-typo", "reason-unknown", "loans-list-limit-0", "ledger-limit-0"],
)
def test_an_option_value_that_would_show_nothing_is_exit_2(tmp_path, args, words):
    done = monitor(*args, cwd=tmp_path)
    assert done.returncode == 2 and words in done.stderr, done.stderr
    assert done.stdout == "" and not (tmp_path / "monitor.db").exists()


def test_a_known_reason_lists(tmp_path):
    done = monitor("loans", "list", "--reason", "token_budget", "--json", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["total"] == 0, done.stderr


# -- check-config reports every problem, in text and JSON (point 12) --------------------------------

MANY = """\
policies:
  - {name: a, match: {}, product: income, max_age: 30 days}
  - {name: b, match: {}, product: incme, max_age: 30d, pre_closing_busines_days: 3}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [a]}
"""

REFS = """\
policies:
  - {name: a, match: {citty: Austin}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [a, nope, also-nope]}
"""


def test_check_config_reports_every_problem_in_one_run(tmp_path):
    (tmp_path / "jobs.yaml").write_text(MANY)
    done = monitor("check-config", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: jobs.yaml: policies[") for line in lines), lines
    assert any("policies[0].max_age (line 2)" in line for line in lines)
    assert any("product" in line and "incme" in line for line in lines)
    assert any("unknown key 'pre_closing_busines_days'; did you mean 'pre_closing_business_days'?" in x for x in lines)
    as_json = monitor("check-config", "--json", cwd=tmp_path)
    assert as_json.returncode == 2 and as_json.stderr == ""
    out = json.loads(as_json.stdout)
    assert out["ok"] is False and len(out["errors"]) == 3 and {e["source"] for e in out["errors"]} == {"jobs.yaml"}
    other = monitor("plan", cwd=tmp_path)  # other commands: the first problem, and that there are more
    assert other.returncode == 2 and "(and 2 more: `monitor check-config` lists them all)" in other.stderr


def test_check_config_lists_every_reference_problem(tmp_path):
    (tmp_path / "jobs.yaml").write_text(REFS)
    out = json.loads(monitor("check-config", "--json", cwd=tmp_path).stdout)
    wheres = [e["where"] for e in out["errors"]]
    assert [w.split(" ")[0] for w in wheres] == [
        "jobs[0].policies[1]",
        "jobs[0].policies[2]",
        "policies[0].match.citty",
    ]


def test_check_config_json_when_good(tmp_path):
    (tmp_path / "jobs.yaml").write_text(REACH)
    done = monitor("check-config", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "ok": True,
        "file": "jobs.yaml",
        "policies": 4,
        "jobs": 1,
        "errors": [],
        "warnings": [],
    }


def test_check_config_lists_field_and_reference_problems_in_one_run(tmp_path):
    # A bad field stops pydantic before its reference check: a job naming a missing policy is still listed.
    (tmp_path / "jobs.yaml").write_text(
        "policies:\n  - {name: p, match: {}, product: income, max_age: 1 day}\n"
        'jobs:\n  - {name: nightly, schedule: "0 25 * * *", policies: [p, missing]}\n'
    )
    out = json.loads(monitor("check-config", "--json", cwd=tmp_path).stdout)
    wheres = sorted(e["where"].split(" ")[0] for e in out["errors"])
    assert wheres == ["jobs[0].policies[1]", "jobs[0].schedule", "policies[0].max_age"], out["errors"]
    missing = next(e for e in out["errors"] if e["where"].startswith("jobs[0].policies[1]"))
    assert missing["message"] == "names policy 'missing', which is not defined (policies: p)"
    assert "(line 4)" in missing["where"]
