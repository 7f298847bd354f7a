"""Several instances on one job (`parallel: true`): claims split the loans, and lapse with a dead holder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.clock import SystemClock
from monitor.config import parse_config
from monitor.core.selection import Selection
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.store import loan_claims, loan_selection
from monitor.store.db import make_engine, session
from monitor.store.tables import Reservation
from tests.e2e.test_concurrency import max_in_window
from tests.helpers import import_csv, seed_loans, services, write_csv
from tests.live import cli_env, monitor_ok, served

N_LOANS = int(os.environ.get("MONITOR_SHARE_LOANS", "600"))
RPM = 60_000

SHARED = """\
truv: {{requests_per_minute: {rpm}, concurrency: 8, timeout_seconds: 10}}
policies:
  - {{name: p, match: {{}}, product: income, max_age: 30d}}
jobs:
  - {{name: shared, schedule: "0 2 * * *", policies: [p], parallel: true, claim_ttl: {ttl}, max_refreshes: 100000}}
"""


def instances(db_url: str, tmp_path: Path, count: int) -> tuple[Sandbox, list[dict]]:
    sandbox = Sandbox(seed=12, clock=SystemClock(), completion_delay=0.0, requests_per_minute=10_000_000)
    now = SystemClock().now()
    rows = ["loan_id,order_id,data_as_of"]
    for i in range(N_LOANS):
        order = sandbox.add_order(order_number=f"S{i}", employers=[EmployerSpec()], created_at=now - timedelta(days=90))
        rows.append(f"S{i},{order['id']},{(now - timedelta(days=40)).isoformat()}")
    (tmp_path / "loans.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "jobs.yaml").write_text(SHARED.format(rpm=RPM, ttl="15m"))
    with served(sandbox) as url:
        env = cli_env(TRUV_BASE_URL=url, TRUV_CLIENT_ID="s", TRUV_SECRET="sandbox-shared", MONITOR_DATABASE_URL=db_url)
        for args in (["db", "upgrade"], ["loans", "import", "loans.csv"]):
            monitor_ok(args, cwd=tmp_path, env=env)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "monitor", "--log-level", "warning", "run", "shared", "--json"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        outs = [p.communicate(timeout=900) for p in procs]
    for proc, (_out, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
    return sandbox, [json.loads(out) for out, _ in outs]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_four_instances_work_every_loan_exactly_once(backend, request, tmp_path):
    db_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    sandbox, summaries = instances(db_url, tmp_path, 4)
    created = sandbox.refreshes()
    per_parent = Counter(e["parent_order_id"] for e in created)
    assert len(per_parent) == N_LOANS and max(per_parent.values()) == 1
    assert sum(s["submitted"] for s in summaries) == N_LOANS
    assert sum(s["selected"] for s in summaries) == N_LOANS  # no loan selected by two instances
    assert sum(1 for s in summaries if s["submitted"]) >= 2  # the work was really shared
    engine = make_engine(db_url)
    with session(engine) as s:
        per_loan = Counter(s.execute(select(Reservation.loan_id)).scalars())
    engine.dispose()
    assert len(per_loan) == N_LOANS and max(per_loan.values()) == 1
    times = [datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in sandbox.journal()]
    assert max_in_window(times, 1.0) <= RPM // 60 + 1  # together within the limit


def test_a_dead_instances_claims_lapse_to_the_others(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=13, clock=clock, completion_delay=0.0)
    cfg = parse_config(SHARED.format(rpm=6000, ttl="10m"))
    svc = services(db_url, clock, sandbox, cfg)
    import_csv(
        svc,
        write_csv(tmp_path / "l.csv", seed_loans(sandbox, [{"loan_id": f"D{i}"} for i in range(10)], tmp_path, clock)),
    )
    # an instance claims four loans and is killed before working them
    with session(svc.engine) as s:
        dead = loan_selection.select_stale(
            s,
            Selection(match={}, max_age_cutoff=clock.now() - timedelta(days=30), pre_closing_days=None),
            now=clock.now(),
            limit=4,
            claim=loan_claims.Claim("deadrun", "other-host:1", timedelta(minutes=10)),
        )
    assert len(dead) == 4
    alive = JobPass(svc, cfg.job("shared")).run()
    assert alive.submitted == 6  # the other six; the dead instance's claims are still live
    clock.advance(9 * 60)
    assert JobPass(svc, cfg.job("shared")).run().submitted == 0
    clock.advance(61)
    late = JobPass(svc, cfg.job("shared")).run()
    assert late.submitted == 4
    assert Counter(e["parent_order_id"] for e in sandbox.refreshes()).most_common(1)[0][1] == 1
