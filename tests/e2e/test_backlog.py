"""The backlog and progress of a pass (issue 14, points 3 and 4): `run --json`, `status --json` and
the metrics carry it per policy; a policy starved by an earlier one's use of max_refreshes is warned
about; a pass steps its progress once per loan worked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import update

from monitor.clock import FixedClock, SystemClock
from monitor.config import parse_config
from monitor.core.selection import Selection
from monitor.jobs.refresh_pass import JobPass
from monitor.metrics import render
from monitor.progress import LogProgress
from monitor.reports.status import status
from monitor.sandbox import Sandbox
from monitor.store.backlog import policy_backlog
from monitor.store.db import session
from monitor.store.loan_selection import count_selectable
from monitor.store.tables import Loan
from tests.conftest import T0
from tests.e2e.test_cli import GOOD, monitor, seed
from tests.helpers import import_csv, seed_loans, services, write_csv
from tests.live import served

CONFIG = """\
truv: {requests_per_minute: 100000, concurrency: 2}
budgets: {per_token_per_24h: 3, gse_per_90d: 5}
policies:
  - {name: gse-first, match: {gse: true}, product: income, max_age: 30d}
  - {name: the-rest, match: {gse: false}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [gse-first, the-rest], max_refreshes: MAXREF, claim_ttl: 2h}
"""
# claim_ttl: the Ticking clock moves 10 s at every read, and each refresh's baseline report read (one GET before a
# connection's first refresh) reads it too: the pass's claims must outlast its simulated hour.


class Lines:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append(fields)


class Ticking(FixedClock):
    """Monotonic time that moves 10 s each time it is read: a slow Truv, without waiting for it."""

    def monotonic(self) -> float:
        self.advance(10)
        return super().monotonic()


def world(db_url: str, clock: FixedClock, tmp_path: Any, max_refreshes: int) -> Any:
    sandbox = Sandbox(seed=9, clock=clock, completion_delay=5.0)
    specs = [{"loan_id": f"G{i}", "gse": True} for i in range(12)]
    specs += [{"loan_id": f"N{i}"} for i in range(20)]
    specs += [{"loan_id": f"E{i}", "gse": True, "products": ("employment",)} for i in range(3)]
    svc = services(db_url, clock, sandbox, parse_config(CONFIG.replace("MAXREF", str(max_refreshes))))
    import_csv(svc, write_csv(tmp_path / "loans.csv", seed_loans(sandbox, specs, tmp_path, clock)))
    return svc


def test_a_starved_policy_is_warned_about_and_the_backlog_is_everywhere(db_url, tmp_path):
    clock = Ticking(T0)
    svc = world(db_url, clock, tmp_path, max_refreshes=10)
    with session(svc.engine) as s:
        s.execute(update(Loan).where(Loan.loan_id == "N0").values(hold="manual_review", hold_reason="forbidden"))
    lines = Lines()
    progress = LogProgress(clock, "run", logger=lines)
    summary = JobPass(svc, svc.config.job("nightly"), progress=progress).run()
    out = json.loads(json.dumps(summary.as_dict(), default=str))  # what `run --json` prints

    gse, rest = out["backlog"]["gse-first"], out["backlog"]["the-rest"]
    # batches of 10 then 4 (2 workers): 10 refreshed, the 14th found max_refreshes spent, the 15th unread
    assert (gse["stale"], gse["submitted"], gse["selected"]) == (15, 10, 14)
    assert gse["not_reached"] == 2 and gse["blocked"] == {"product_not_allowed": 3}
    assert gse["nights_to_clear"] == 1
    assert (rest["stale"], rest["selected"], rest["not_reached"]) == (20, 0, 19)
    assert rest["blocked"] == {"forbidden": 1}  # held, by its reason
    assert rest["nights_to_clear"] == 3  # 2 + 19 waiting at 10 a night
    assert out["not_reached"] == 1 + 19  # never selected, both policies
    [warning] = out["warnings"]
    assert "the-rest got no refresh" in warning and "gse-first 10" in warning and "19 of its loans" in warning

    # Progress: one step per loan worked; lines came from the ticking clock, not from sleeping.
    assert progress.done == out["selected"] == 14
    # The work is counted before the first loan (issue 24 point 5): every line shows both policies' total.
    assert lines.lines and {line["total"] for line in lines.lines} == {12 + 3 + 19}
    assert progress.total == 12 + 3 + 19
    assert all(line["what"] == "run" and "eta_s" in line for line in lines.lines)

    view = status(svc, now=clock.now())
    [job] = view["jobs"]
    live = job["backlog"]["policies"]
    assert live["the-rest"]["waiting"] == 19 and live["the-rest"]["held"] == {"forbidden": 1}
    assert live["the-rest"]["last_pass"] == {"not_reached": 19, "blocked": {"forbidden": 1}}
    assert live["gse-first"]["in_flight"] == 10  # refreshes under way are not the backlog
    assert job["backlog"]["capacity_per_night"] == 10

    # The pass's stale counts come from the backlog read: what it says waits is what the selection selects.
    flying = 0
    for policy in svc.config.policies:
        sel = Selection(match=policy.match, max_age_cutoff=clock.now() - policy.max_age, pre_closing_days=None)
        with session(svc.engine) as s:
            read = policy_backlog(s, sel, now=clock.now())
            assert read.waiting == count_selectable(s, sel, now=clock.now())
        flying += read.counts().in_flight
    assert flying == 10

    metrics = render(svc).decode()
    assert 'monitor_backlog_loans{policy="the-rest",reason="not_reached"} 19.0' in metrics
    assert 'monitor_backlog_loans{policy="the-rest",reason="forbidden"} 1.0' in metrics
    assert 'monitor_backlog_loans{policy="gse-first",reason="product_not_allowed"} 3.0' in metrics


def test_no_warning_when_every_policy_got_its_turn(db_url, clock, tmp_path):
    svc = world(db_url, clock, tmp_path, max_refreshes=100)
    summary = JobPass(svc, svc.config.job("nightly"), wait_seconds=0).run()
    assert summary.warnings == [] and summary.not_reached == 0
    assert {p: b["not_reached"] for p, b in summary.backlog.items()} == {"gse-first": 0, "the-rest": 0}
    assert summary.backlog["the-rest"]["nights_to_clear"] == 0


@pytest.fixture
def live() -> Any:
    sandbox = Sandbox(seed=11, clock=SystemClock(), completion_delay=0.0)
    with served(sandbox) as url:
        yield sandbox, url


def test_plan_json_lists_loans_with_a_limit_and_run_json_carries_the_backlog(tmp_path, live):
    """The commands as a user runs them: `plan --json --limit`, then `run --json` agreeing with it."""
    sandbox, url = live
    seed(sandbox, tmp_path, n=5)
    (tmp_path / "jobs.yaml").write_text(
        GOOD.replace("policies: [income-30d]}", "policies: [income-30d], max_refreshes: 2}")
    )
    env = {"TRUV_BASE_URL": url, "TRUV_CLIENT_ID": "cid", "TRUV_SECRET": "sandbox-very-secret-value"}
    assert monitor("loans", "import", "loans.csv", cwd=tmp_path).returncode == 0
    result = monitor("plan", "--json", "--limit", "3", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    # Orders never read, all in the pass's first batch: the plan reads each as the run will, and the first
    # two take max_refreshes.
    assert (plan["details_needed"], plan["not_reached"], plan["loans_total"], plan["loans_truncated"]) == (
        0,
        0,
        5,
        True,
    )
    assert [(x["decision"], x["reason"]) for x in plan["loans"]] == [
        ("refresh", None),
        ("refresh", None),
        ("skip", "max_refreshes"),
    ]
    assert plan["skipped"] == {"max_refreshes": 3}
    assert {e["method"] for e in sandbox.journal()} == {"GET"}  # read, nothing sent
    run = monitor("run", "--json", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert (out["selected"], out["submitted"], out["skipped"]) == (5, 2, {"max_refreshes": 3})
    ran, planned = out["backlog"]["income-30d"], plan["backlog"]["income-30d"]
    for key in ("stale", "waiting", "selected", "not_reached", "blocked", "nights_to_clear"):
        assert ran[key] == planned[key], key
    assert (ran["not_reached"], ran["submitted"], planned["details_needed"]) == (3, 2, 0)
    assert out["warnings"] == []
    progress = [json.loads(line) for line in run.stderr.splitlines() if '"progress"' in line]
    assert progress == []  # a pass quicker than 30 s logs no progress line
