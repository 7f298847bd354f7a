"""The installed `monitor` command as a user runs it: exit codes, stderr, JSON, real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.clock import SystemClock
from monitor.sandbox import EmployerSpec, Sandbox
from tests.live import served

GOOD = """\
truv: {requests_per_minute: 600}
policies:
  - {name: income-30d, match: {gse: [true, false]}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d]}
"""


def monitor(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUV_", "MONITOR_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def test_check_config_ok_and_bad(tmp_path):
    (tmp_path / "jobs.yaml").write_text(GOOD)
    ok = monitor("check-config", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "bad.yaml").write_text(GOOD.replace("30d", "30 days"))
    bad = monitor("--config", "bad.yaml", "check-config", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        'error: bad.yaml: policies[0].max_age (line 3): expected a positive duration like "90m", "24h" or "30d", got \'30 days\''
    ]


def test_config_from_env_and_missing_file(tmp_path):
    (tmp_path / "mine.yaml").write_text(GOOD)
    assert monitor("check-config", cwd=tmp_path, env={"MONITOR_CONFIG": "mine.yaml"}).returncode == 0
    missing = monitor("check-config", cwd=tmp_path)
    assert missing.returncode == 2 and "jobs.yaml: file not found" in missing.stderr


def test_bad_import_exits_2_and_changes_nothing(tmp_path):
    (tmp_path / "loans.csv").write_text("loan_id,order_id\nL1,o1\n")
    assert monitor("loans", "import", "loans.csv", cwd=tmp_path).returncode == 0
    (tmp_path / "bad.csv").write_text("loan_id,order_id,gse\nL2,o2,true\nL3,o3,perhaps\n")
    bad = monitor("loans", "import", "bad.csv", cwd=tmp_path)
    assert bad.returncode == 2
    assert "bad.csv: row 3, column 'gse': expected true or false, got 'perhaps'" in bad.stderr
    listed = monitor("ledger", "--json", cwd=tmp_path)
    assert listed.returncode == 0
    import sqlite3

    with closing(sqlite3.connect(tmp_path / "monitor.db")) as db:
        assert [r[0] for r in db.execute("select loan_id from loan order by 1")] == ["L1"]


def test_run_without_credentials_is_a_config_error(tmp_path):
    (tmp_path / "jobs.yaml").write_text(GOOD)
    result = monitor("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "TRUV_CLIENT_ID and TRUV_SECRET" in result.stderr


def test_unknown_job_is_exit_2(tmp_path):
    (tmp_path / "jobs.yaml").write_text(GOOD)
    result = monitor("plan", "weekly", cwd=tmp_path)
    assert result.returncode == 2 and "no job named 'weekly' (jobs: nightly)" in result.stderr


@pytest.fixture
def live_sandbox():
    sandbox = Sandbox(seed=11, clock=SystemClock(), completion_delay=0.0)
    with served(sandbox) as url:
        yield sandbox, url


def seed(sandbox: Sandbox, tmp_path: Path, n: int = 3) -> None:
    now = SystemClock().now()
    rows = ["loan_id,order_id,gse,data_as_of"]
    for i in range(n):
        order = sandbox.add_order(
            order_number=f"L{i}",
            employers=[EmployerSpec(access_token=f"secret-token-{i}")],
            created_at=now - timedelta(days=90),
        )
        rows.append(f"L{i},{order['id']},{'true' if i % 2 else 'false'},{(now - timedelta(days=40)).isoformat()}")
    (tmp_path / "loans.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "jobs.yaml").write_text(GOOD)


def test_run_over_real_http_prints_json_and_keeps_secrets_out_of_logs(tmp_path, live_sandbox):
    sandbox, url = live_sandbox
    seed(sandbox, tmp_path)
    env = {"TRUV_BASE_URL": url, "TRUV_CLIENT_ID": "cid", "TRUV_SECRET": "sandbox-very-secret-value"}
    assert monitor("loans", "import", "loans.csv", cwd=tmp_path).returncode == 0
    offline = monitor("plan", "--json", "--offline", cwd=tmp_path, env=env)
    assert offline.returncode == 0 and json.loads(offline.stdout)["details_needed"] == 3
    assert sandbox.journal() == []  # offline: nothing read
    plan = monitor("plan", "--json", cwd=tmp_path, env=env)
    planned = json.loads(plan.stdout)
    assert plan.returncode == 0 and (planned["details_needed"], planned["submitted"]) == (0, 3)
    assert {e["method"] for e in sandbox.journal()} == {"GET"}  # the orders read, nothing sent
    assert "sandbox-very-secret-value" not in plan.stdout + plan.stderr
    result = monitor("--log-level", "debug", "run", "nightly", "--json", "--wait", "10", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for key in ("run_id", "job", "selected", "submitted", "skipped", "completed", "failed"):
        assert key in out
    assert (out["selected"], out["submitted"], out["completed"]) == (3, 3, 3)
    assert len(sandbox.refreshes()) == 3
    everything = result.stdout + result.stderr
    assert "sandbox-very-secret-value" not in everything
    assert "secret-token-" not in everything
    for line in result.stderr.strip().splitlines():
        json.loads(line)  # not a terminal: JSON log lines
    ledger = monitor("ledger", "--json", cwd=tmp_path)
    data = json.loads(ledger.stdout)
    assert len(data["reservations"]) == 3 and all(r["refresh_order_id"] for r in data["reservations"])
    assert "secret-token-" not in ledger.stdout
    db_bytes = (
        (tmp_path / "monitor.db").read_bytes() + (tmp_path / "monitor.db-wal").read_bytes()
        if (tmp_path / "monitor.db-wal").exists()
        else (tmp_path / "monitor.db").read_bytes()
    )
    assert b"secret-token-" not in db_bytes  # access tokens are never stored, only hashes


def test_bad_credentials_exit_1_with_one_line(tmp_path, live_sandbox):
    sandbox, url = live_sandbox
    seed(sandbox, tmp_path)
    monitor("loans", "import", "loans.csv", cwd=tmp_path)
    env = {"TRUV_BASE_URL": url, "TRUV_CLIENT_ID": "cid", "TRUV_SECRET": "prod-not-for-the-sandbox"}
    result = monitor("--log-level", "error", "run", cwd=tmp_path, env=env)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Truv refused the credentials (403" in lines[0]
    assert "prod-not-for-the-sandbox" not in result.stderr
    assert len(sandbox.journal()) <= 8  # no retry storm: at most one request per worker


def test_demo_runs_end_to_end(tmp_path):
    result = monitor("demo", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    tonight = out["tonight"]
    assert tonight["submitted"] == 14  # 9, and the 5 income-monitoring loans' weekly refresh
    assert tonight["skipped"].get("gse_budget") == 1
    # the outcomes arrived by signed webhook, through the real receiver, and show in the re-auth list
    assert out["webhooks"].get("applied", 0) >= 9 and "401" not in out["webhooks"]
    assert {r["loan_id"] for r in out["needs_reauth"]} == {"L-1009", "L-1010"}
    outcomes = {row["loan_id"]: row["outcome"] for row in out["loans"]}
    assert outcomes["L-1002"] == "completed" and outcomes["L-1009"] == "login_error"
    assert outcomes["L-1011"] == "unavailable"
    assert out["plan"]["requests"] == 0  # the plan sent nothing
    decisions = {row["loan_id"]: row["decision"] for row in out["loans"]}
    assert decisions["L-1001"].startswith("not selected")
    assert "partial" in decisions["L-1008"]
    assert decisions["L-1012"] == "skipped: product_not_allowed"
    # income monitoring: each scripted change in the borrowers' payroll data is found
    rules = {(f["loan_id"], f["rule"]) for f in out["changes"]}
    assert {("L-2001", "job_loss"), ("L-2002", "income_drop"), ("L-2003", "employer_change")} <= rules
    assert {("L-2004", "missed_pay"), ("L-2005", "job_type_change"), ("L-1009", "unverified")} <= rules
    # recreated each time: a second demo gives the same story
    again = json.loads(monitor("demo", "--json", cwd=tmp_path).stdout)
    assert again["tonight"]["submitted"] == tonight["submitted"]


@pytest.mark.parametrize("args", [["run", "--bogus"], ["nosuchcommand"], ["sandbox", "serve", "--port", "abc"]])
def test_usage_errors_exit_2_without_a_traceback(tmp_path, args):
    result = monitor(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Error:" in result.stderr


# -- `run --json`: one JSON object on stdout whatever the exit (issue 24, point 6) -----------------


def _one_object(result: subprocess.CompletedProcess[str]) -> dict:
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    out = json.loads(lines[0])
    assert out["exit"] == result.returncode and out["error"], out
    assert out["error"] in result.stderr  # the same words as the one `error:` line
    return out


def test_run_json_when_truv_is_unreachable_prints_the_pass_and_the_error(tmp_path, live_sandbox):
    sandbox, _url = live_sandbox
    seed(sandbox, tmp_path)
    (tmp_path / "jobs.yaml").write_text(
        GOOD.replace("requests_per_minute: 600", "requests_per_minute: 600, max_consecutive_failures: 2")
    )
    assert monitor("loans", "import", "loans.csv", cwd=tmp_path).returncode == 0
    with socket.socket() as s:  # a loopback port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1/"
    env = {"TRUV_BASE_URL": dead, "TRUV_CLIENT_ID": "cid", "TRUV_SECRET": "sandbox-very-secret-value"}
    result = monitor("run", "nightly", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    out = _one_object(result)
    assert out["status"] == "truv_unreachable" and dead in out["error"] and out["job"] == "nightly"
    assert "sandbox-very-secret-value" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "env", "code", "words"),
    [
        (["run", "--json"], {}, 2, "TRUV_CLIENT_ID"),  # no credentials
        (["run", "weekly", "--json"], {"TRUV_CLIENT_ID": "c", "TRUV_SECRET": "sandbox-s"}, 2, "no job named"),
        (["run", "--json", "--bogus"], {}, 2, "--bogus"),  # a usage error, before the command runs
        (["--log-level", "info", "run", "--json", "--wait", "-1"], {}, 2, "--wait"),
    ],
    ids=["no-credentials", "unknown-job", "unknown-option", "bad-value"],
)
def test_run_json_prints_one_object_on_every_error(tmp_path, args, env, code, words):
    (tmp_path / "jobs.yaml").write_text(GOOD)
    result = monitor(*args, cwd=tmp_path, env=env)
    assert result.returncode == code, result.stderr
    assert words in _one_object(result)["error"]


def test_other_commands_keep_stdout_empty_on_an_error(tmp_path):
    (tmp_path / "jobs.yaml").write_text(GOOD)
    result = monitor("plan", "weekly", "--json", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
