"""Running unattended: catch-up, two daemons, lease takeover, clean stop, status and metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

from sqlalchemy import func, select

from monitor.clock import SystemClock
from monitor.jobs.refresh_pass import JobPass
from monitor.metrics import render
from monitor.reports.status import status
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.scheduler import Daemon, jobs_to_catch_up
from monitor.store import runs
from monitor.store.db import make_engine, session, upgrade
from monitor.store.tables import Lease, Reservation, Run
from tests.helpers import import_csv, seed_loans, services, write_csv
from tests.live import served


def world(db_url, clock, tmp_path, n=3):
    sandbox = Sandbox(seed=17, clock=clock, completion_delay=0.0)
    svc = services(db_url, clock, sandbox)
    import_csv(
        svc,
        write_csv(tmp_path / "l.csv", seed_loans(sandbox, [{"loan_id": f"O{i}"} for i in range(n)], tmp_path, clock)),
    )
    return svc, sandbox


def run_count(svc) -> int:
    with session(svc.engine) as s:
        return s.execute(select(func.count()).select_from(Run)).scalar_one()


def test_daemon_catches_up_once_after_missed_nights(db_url, clock, tmp_path):
    svc, _ = world(db_url, clock, tmp_path)
    JobPass(svc, svc.config.job("nightly")).run()
    clock.advance(4 * 86400)  # the daemon was down for four nights
    assert [j.name for j in jobs_to_catch_up(svc, svc.config.jobs)] == ["nightly"]
    daemon = Daemon(svc)
    assert daemon.start() == ["nightly"]
    deadline = time.monotonic() + 20
    while run_count(svc) < 2 and time.monotonic() < deadline:  # waiting for the catch-up thread
        time.sleep(0.02)
    time.sleep(0.3)  # nothing else must start (this sleep checks for absence, no time rule depends on it)
    daemon.stop.set()
    daemon.wait()
    assert run_count(svc) == 2  # one catch-up pass, not one per missed night
    assert jobs_to_catch_up(svc, svc.config.jobs) == []


def test_two_daemons_firing_together_make_one_pass(db_url, clock, tmp_path):
    svc, sandbox = world(db_url, clock, tmp_path)
    first, second = Daemon(svc), Daemon(svc)
    barrier = threading.Barrier(2)

    def fire(d):
        barrier.wait()
        d.run_job("nightly")

    threads = [threading.Thread(target=fire, args=(d,)) for d in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert run_count(svc) == 1
    assert len(sandbox.refreshes()) == 3


def test_a_killed_holders_lease_is_taken_over_after_it_expires(db_url, clock, tmp_path):
    svc, _ = world(db_url, clock, tmp_path)
    with session(svc.engine) as s:
        runs.acquire_lease(s, job="nightly", holder="other-host:4242", run_id="dead", now=clock.now())
    blocked = JobPass(svc, svc.config.job("nightly")).run()
    assert blocked.status == "lease_held" and blocked.lease_holder == "other-host:4242"
    clock.advance(runs.LEASE_TTL.total_seconds() + 1)
    assert JobPass(svc, svc.config.job("nightly")).run().status == "finished"


def test_status_and_metrics_tell_the_operator(db_url, clock, tmp_path):
    svc, _ = world(db_url, clock, tmp_path)
    summary = JobPass(svc, svc.config.job("nightly")).run()
    data = status(svc, now=clock.now())
    job = data["jobs"][0]
    assert job["last_passes"][0]["run_id"] == summary.run_id and job["last_passes"][0]["submitted"] == 3
    assert job["next_fire_times"][0] > clock.now() and job["lease"] is None
    text = render(svc).decode()
    assert 'monitor_refreshes_total{state="accepted"} 3.0' in text
    assert 'monitor_last_pass_submitted{job="nightly"} 3.0' in text
    assert 'monitor_last_success_timestamp_seconds{job="nightly"}' in text


def test_sigterm_mid_pass_stops_cleanly(tmp_path):
    """A real `monitor run`, 1 s of latency per request: SIGTERM ends it promptly and explains everything."""
    sandbox = Sandbox(seed=19, clock=SystemClock(), completion_delay=0.0)
    now = SystemClock().now()
    rows = ["loan_id,order_id,data_as_of"]
    for i in range(200):
        order = sandbox.add_order(order_number=f"T{i}", employers=[EmployerSpec()], created_at=now - timedelta(days=90))
        rows.append(f"T{i},{order['id']},{(now - timedelta(days=40)).isoformat()}")
    (tmp_path / "loans.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "jobs.yaml").write_text(
        "truv: {requests_per_minute: 600, concurrency: 4}\n"
        "policies:\n  - {name: p, match: {}, product: income, max_age: 30d}\n"
        "jobs:\n  - {name: nightly, schedule: '0 2 * * *', policies: [p]}\n"
    )
    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    with served(sandbox, latency=1.0) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUV_", "MONITOR_"))}
        env.update(TRUV_BASE_URL=url, TRUV_CLIENT_ID="t", TRUV_SECRET="sandbox-t", MONITOR_DATABASE_URL=db_url)
        subprocess.run(
            [sys.executable, "-m", "monitor", "loans", "import", "loans.csv"],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor",
                "--log-level",
                "warning",
                "run",
                "--json",
                "--metrics-file",
                str(tmp_path / "monitor.prom"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while not sandbox.refreshes() and time.monotonic() < deadline:  # until the pass is really sending
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - signalled
    assert proc.returncode == 0, err
    assert took < 15, f"took {took:.1f}s to stop"
    summary = json.loads(out)
    assert summary["status"] == "stopped" and 0 < summary["submitted"] < 200
    engine = make_engine(db_url)
    upgrade(engine)
    with session(engine) as s:
        rows = s.execute(select(Reservation)).scalars().all()
        lease = s.get(Lease, "nightly")
        run = s.execute(select(Run)).scalars().one()
    states = {r.state for r in rows}
    assert states <= {"accepted", "completed", "unknown"}, states  # nothing left merely "reserved"
    assert lease is None and run.status == "stopped"
    assert {e["created_order_id"] for e in sandbox.refreshes()} <= {r.refresh_order_id for r in rows}
    assert "monitor_last_pass_submitted" in (tmp_path / "monitor.prom").read_text()
