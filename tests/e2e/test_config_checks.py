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
