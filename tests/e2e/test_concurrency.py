"""Several `monitor run` processes at once on one database: budgets, single refreshes, shared pace.

Four processes on one SQLite file and eight on Postgres run different jobs over the same loans
(so the job lease does not serialise them and only the ledger keeps the budgets), then the
sandbox's journal is checked: no token past 3 in 24 h, no loan refreshed twice, and the
combined request rate within `requests_per_minute`.
"""

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
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.store.db import make_engine, session
from monitor.store.tables import Reservation
from tests.live import cli_env, monitor_ok, served

RPM = 1200  # 20 a second: fast enough for a test, slow enough that pacing is what limits the rate


def config(jobs: int) -> str:
    lines = [
        f"truv: {{requests_per_minute: {RPM}, concurrency: 4, timeout_seconds: 10}}",
        "policies:",
        "  - {name: income-30d, match: {}, product: income, max_age: 30d}",
        "jobs:",
    ]
    lines += [f"  - {{name: job{i}, schedule: '0 2 * * *', policies: [income-30d]}}" for i in range(jobs)]
    return "\n".join(lines) + "\n"


def seed(sandbox: Sandbox, workdir: Path, jobs: int, n_loans: int = 60) -> None:
    now = SystemClock().now()
    rows = ["loan_id,order_id,gse,data_as_of"]
    for i in range(n_loans):
        token = f"busy-{i // 12}" if i % 2 == 0 else None  # six loans per shared connection
        order = sandbox.add_order(
            order_number=f"P{i}", employers=[EmployerSpec(access_token=token)], created_at=now - timedelta(days=100)
        )
        rows.append(f"P{i},{order['id']},false,{(now - timedelta(days=45)).isoformat()}")
    (workdir / "loans.csv").write_text("\n".join(rows) + "\n")
    (workdir / "jobs.yaml").write_text(config(jobs))


def max_in_window(times: list[datetime], seconds: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while (t - times[start]).total_seconds() >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def concurrent_passes(db_url: str, tmp_path: Path, processes: int) -> None:
    sandbox = Sandbox(seed=9, clock=SystemClock(), completion_delay=0.2, requests_per_minute=100_000)
    seed(sandbox, tmp_path, processes)
    with served(sandbox, latency=0.05) as url:
        env = cli_env(TRUV_BASE_URL=url, TRUV_CLIENT_ID="conc", TRUV_SECRET="sandbox-conc", MONITOR_DATABASE_URL=db_url)
        for args in (["db", "upgrade"], ["loans", "import", "loans.csv"]):
            monitor_ok(args, cwd=tmp_path, env=env)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "monitor", "--log-level", "warning", "run", f"job{i}", "--json", "--wait", "5"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(processes)
        ]
        results = [p.communicate(timeout=300) for p in procs]
        for proc, (_out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, err
    summaries = [json.loads(out) for out, _ in results]

    created = sandbox.refreshes()
    per_token = Counter(t for e in created for t in e["token_hashes"])
    per_parent = Counter(e["parent_order_id"] for e in created)
    assert max(per_token.values()) <= 3
    assert max(per_parent.values()) == 1
    assert len(created) == 30 + 5 * 3  # 30 own connections, 5 shared ones at 3 each
    assert sum(s["submitted"] for s in summaries) == len(created)
    refusals = [e for e in sandbox.journal() if e["status"] == 400]
    assert refusals == []
    engine = make_engine(db_url)
    with session(engine) as s:
        ledgered = set(s.execute(select(Reservation.refresh_order_id)).scalars())
    engine.dispose()
    assert {e["created_order_id"] for e in created} <= ledgered
    # the combined pace: never more than the limit allows
    times = [datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in sandbox.journal()]
    # Times are arrivals at the sandbox: slots leave 2% apart from the limit, and a loaded machine can
    # bunch a few arrivals at a window's edge; a pace above the limit would overshoot by far more.
    assert max_in_window(times, 1.0) <= RPM // 60 + 3
    assert max_in_window(times, 5.0) <= RPM // 12 + 3
    assert max_in_window(times, 5.0) >= RPM // 12 * 0.8  # and the pace was really used


def test_four_passes_on_one_sqlite_file(sqlite_url, tmp_path):
    concurrent_passes(sqlite_url, tmp_path, 4)


@pytest.mark.postgres
def test_eight_passes_on_postgres(pg_url, tmp_path):
    concurrent_passes(pg_url, tmp_path, 8)


def test_a_second_pass_of_the_same_job_steps_aside(sqlite_url, tmp_path):
    from monitor.store.runs import acquire_lease

    engine = make_engine(sqlite_url)
    from monitor.store.db import upgrade

    upgrade(engine)
    now = SystemClock().now()
    with session(engine) as s:
        assert acquire_lease(s, job="nightly", holder="other-host:1", run_id="r1", now=now) is None
    (tmp_path / "jobs.yaml").write_text(config(1).replace("job0", "nightly"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUV_", "MONITOR_"))}
    env.update(TRUV_CLIENT_ID="x", TRUV_SECRET="sandbox-x", MONITOR_DATABASE_URL=sqlite_url)
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "nightly", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    out = json.loads(done.stdout)
    assert out["status"] == "lease_held" and out["lease_holder"] == "other-host:1"
