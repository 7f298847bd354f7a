"""Issue 14, points 6-8: Truv unreachable stops the pass fast, a taken port is exit 1, report formats."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from monitor.clock import FixedClock
from monitor.errors import TruvNotFound, TruvUnavailable, TruvUnreachable
from monitor.truv.client import TruvClient, build_http
from monitor.truv.pacer import LocalPacer
from tests.live import cli_env

JOBS = """\
truv: {requests_per_minute: 6000}
policies:
  - {name: income-30d, match: {gse: [true, false]}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d]}
"""
SECRET = "sandbox-not-for-stderr-0123456789"


def monitor(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=cli_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return int(port)


# -- 6: fail fast ------------------------------------------------------------------------------


def _client(handler, clock: FixedClock, threshold: int = 10) -> TruvClient:
    http = build_http("https://user:pw@prod.truv.com/v1/", "cid", SECRET, 5.0, transport=httpx.MockTransport(handler))
    return TruvClient(
        http, pacer=LocalPacer(60000, clock), clock=clock, max_attempts=4, max_consecutive_failures=threshold
    )


def test_counter_trips_after_consecutive_failures_and_any_answer_resets_it():
    clock = FixedClock(datetime(2026, 11, 30, tzinfo=UTC))
    script: list[object] = [httpx.Response(404)]
    script += [httpx.ConnectError("refused")] * 4  # one GET, retried: 4
    script += [httpx.Response(503)]  # an answer, even a 5xx: back to 0
    script += [httpx.ReadTimeout("slow")] * 2 + [httpx.Response(404)]
    script += [httpx.ConnectError("refused")] * 4 + [httpx.ConnectTimeout("slow")] * 4 + [httpx.ConnectError("x")] * 2
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        answer = script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, httpx.Response)
        return answer

    client = _client(handler, clock)
    with pytest.raises(TruvNotFound):
        client.get_order("o1")
    with pytest.raises(TruvUnavailable):
        client.get_order("o1")  # 4 failures
    with pytest.raises(TruvNotFound):
        client.get_order("o1")  # 503 (reset), 2 timeouts, 404 (reset)
    assert client.unreachable is None
    with pytest.raises(TruvUnavailable):
        client.get_order("o1")  # 4
    with pytest.raises(TruvUnavailable):
        client.get_order("o1")  # 8
    with pytest.raises(TruvUnreachable) as tripped:
        client.get_order("o1")  # 10: the 10th raises at once, no further wait
    assert "https://prod.truv.com/v1/" in str(tripped.value)
    assert SECRET not in str(tripped.value) and "pw" not in str(tripped.value)
    assert not script
    count = len(sent)
    called: list[bool] = []
    with pytest.raises(TruvUnreachable):
        client.get_order("o2")
    with pytest.raises(TruvUnreachable):
        client.refresh("o2", product="income", before_send=lambda: called.append(True))
    assert len(sent) == count and not called  # nothing more is sent, no reservation moves to "sent"
    client.reset_reachability()
    script.append(httpx.Response(404))
    with pytest.raises(TruvNotFound):
        client.get_order("o3")  # a new pass starts afresh


def test_counter_is_shared_by_threads():
    clock = FixedClock(datetime(2026, 11, 30, tzinfo=UTC))
    sent: list[int] = []
    lock = threading.Lock()

    def handler(_request: httpx.Request) -> httpx.Response:
        with lock:
            sent.append(1)
        raise httpx.ConnectError("refused")

    client = _client(handler, clock)
    errors: list[type] = []

    def work() -> None:
        for _ in range(10):
            try:
                client.get_order("o1")
            except Exception as exc:
                with lock:
                    errors.append(type(exc))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sent) == 10  # never answered: one call at a time, each tried once, 10 in all
    assert errors.count(TruvUnreachable) == 160 - 9 and set(errors) == {TruvUnavailable, TruvUnreachable}


def test_run_against_a_closed_port_stops_fast_as_truv_unreachable(tmp_path):
    (tmp_path / "jobs.yaml").write_text(JOBS)
    rows = "".join(f"L{i},o{i},false\n" for i in range(30))
    (tmp_path / "loans.csv").write_text("loan_id,order_id,gse\n" + rows)
    assert monitor("loans", "import", "loans.csv", cwd=tmp_path).returncode == 0
    url = f"http://127.0.0.1:{closed_port()}/v1/"
    env = {"TRUV_BASE_URL": url, "TRUV_CLIENT_ID": "cid", "TRUV_SECRET": SECRET}
    start = time.monotonic()
    result = monitor("run", cwd=tmp_path, env=env)
    took = time.monotonic() - start
    assert result.returncode == 1, result.stderr
    assert took < 20, took
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert url in errors[0] and "unreachable" in errors[0]
    assert SECRET not in result.stderr + result.stdout
    status = json.loads(monitor("status", "--json", cwd=tmp_path, env=env).stdout)
    assert "truv_unreachable" in json.dumps(status)
    with closing(sqlite3.connect(tmp_path / "monitor.db")) as db:
        assert db.execute("select status, finished_at is not null from run").fetchall() == [("truv_unreachable", 1)]
        assert db.execute("select count(*) from lease").fetchone()[0] == 0
        assert db.execute("select count(*) from reservation where state in ('reserved', 'sent')").fetchone()[0] == 0


# -- 7: ports ----------------------------------------------------------------------------------


@pytest.fixture
def taken_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def test_schedule_on_a_taken_port_is_exit_1(tmp_path, taken_port):
    (tmp_path / "jobs.yaml").write_text(JOBS)
    env = {"TRUV_CLIENT_ID": "cid", "TRUV_SECRET": SECRET}
    start = time.monotonic()
    result = monitor("schedule", "--port", str(taken_port), cwd=tmp_path, env=env, timeout=30)
    assert result.returncode == 1
    assert time.monotonic() - start < 15
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot listen on 127.0.0.1:{taken_port}: "), result.stderr


def test_webhooks_serve_on_a_taken_port_is_exit_1(tmp_path, taken_port):
    result = monitor("webhooks", "serve", "--port", str(taken_port), cwd=tmp_path, env={"TRUV_SECRET": SECRET})
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot listen on 127.0.0.1:{taken_port}: "), result.stderr


def _serve_until(args: list[str], cwd: Path, env: dict[str, str], wanted: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args], cwd=cwd, env=cli_env(**env), stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen += line
        if line.startswith(wanted):
            return proc, line.strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    proc.communicate()  # reaps it and closes its stderr pipe
    raise AssertionError(seen)


def _stop(proc: subprocess.Popen) -> None:
    """Stop a server `_serve_until` started: terminated, reaped, its stderr pipe read to the end and closed."""
    proc.terminate()
    proc.communicate(timeout=30)


def test_schedule_says_where_it_listens_and_healthz_reports_the_jobs(tmp_path):
    (tmp_path / "jobs.yaml").write_text(JOBS)
    port = closed_port()
    env = {"TRUV_CLIENT_ID": "cid", "TRUV_SECRET": SECRET, "TRUV_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1/"}
    proc, line = _serve_until(["schedule", "--port", str(port)], tmp_path, env, "listening on")
    try:
        assert line == f"listening on http://127.0.0.1:{port}"
        body: dict = {}
        for _ in range(50):
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                body = answer.json()
                if "jobs" in body:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        job = body["jobs"]["nightly"]
        assert job["next_fire"] and "T" in job["next_fire"]
        assert "last_pass" in job and "overdue_since" in job
        # The start-up catch-up pass finds no loan; its status decides 200 or 503.
        assert (answer.status_code == 200) == body["ok"]
    finally:
        _stop(proc)


def test_webhooks_serve_says_where_it_listens(tmp_path):
    port = closed_port()
    proc, line = _serve_until(
        ["webhooks", "serve", "--port", str(port)], tmp_path, {"TRUV_SECRET": SECRET}, "listening on"
    )
    try:
        assert line == f"listening on http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        _stop(proc)


# -- 8: report format --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("x.csv", lambda text: not text.lstrip().startswith("<") and "," in text),
        ("x.json", lambda text: isinstance(json.loads(text), dict)),
        ("x.html", lambda text: "<html" in text.lower()),
        ("x.htm", lambda text: "<html" in text.lower()),
    ],
)
def test_report_format_follows_the_extension(tmp_path, name, check):
    result = monitor("report", "--from", "2026-11-01", "--to", "2026-11-30", "--out", name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert check((tmp_path / name).read_text())


def test_report_format_conflicting_with_the_extension_is_exit_2(tmp_path):
    result = monitor(
        "report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "html", "--out", "x.csv", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "html" in result.stderr and "x.csv" in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_report_explicit_format_with_another_extension_still_works(tmp_path):
    result = monitor(
        "report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json", "--out", "x.txt", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads((tmp_path / "x.txt").read_text()), dict)


def test_pass_stops_when_refresh_posts_cannot_connect_and_releases_what_it_reserved(sqlite_url, clock, tmp_path):
    from sqlalchemy import select

    from monitor.jobs.refresh_pass import JobPass
    from monitor.sandbox import Sandbox
    from monitor.sandbox.transport import SandboxTransport
    from monitor.store.db import session
    from monitor.store.tables import Lease, Reservation, Run
    from tests.helpers import import_csv, seed_loans, services, write_csv

    sandbox = Sandbox(seed=3, clock=clock, completion_delay=5.0)
    svc = services(sqlite_url, clock, sandbox)
    import_csv(
        svc,
        write_csv(
            tmp_path / "loans.csv", seed_loans(sandbox, [{"loan_id": f"P{i}"} for i in range(25)], tmp_path, clock)
        ),
    )
    inner = SandboxTransport(sandbox)

    class GetsOnly(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST":
                raise httpx.ConnectError("refused", request=request)
            return inner.handle_request(request)

    assert svc.client is not None
    headers = svc.client.http.headers
    svc.client.http = build_http(
        str(svc.client.http.base_url),
        headers["X-Access-Client-Id"],
        headers["X-Access-Secret"],
        5.0,
        transport=GetsOnly(),
    )
    # First pass: each loan's details GET is answered between the POSTs, so no run of 10 failures.
    first = JobPass(svc, svc.config.job("nightly")).run()
    assert first.status == "finished" and first.skipped["not_sent"] == 25
    # Second pass: the details are known, only POSTs are sent, and they fail 10 times in a row.
    clock.advance(60)
    with pytest.raises(TruvUnreachable, match="unreachable at"):
        JobPass(svc, svc.config.job("nightly")).run()
    assert sandbox.refreshes() == []
    with session(svc.engine) as s:
        assert sorted(r.status for r in s.execute(select(Run)).scalars()) == ["finished", "truv_unreachable"]
        assert s.execute(select(Lease)).scalars().all() == []
        states = {r.state for r in s.execute(select(Reservation)).scalars()}
    assert states <= {"released"} and states  # every reservation made was released: none of its POSTs left


def test_daemon_health_counts_overdue_only_from_fire_times_since_it_started(db_url, clock):
    """Issue 24, point 7: a job added a minute ago is not "overdue since" last night's 02:00."""
    from datetime import UTC, datetime, timedelta

    from monitor.scheduler import Daemon
    from monitor.store.db import session
    from monitor.store.tables import Run
    from tests.helpers import services

    svc = services(db_url, clock, None)  # nightly at 02:00 UTC; the clock: Friday 12:00 UTC
    with session(svc.engine) as s:  # its last pass was three days ago: the daemon was down since
        old = clock.now() - timedelta(days=3)
        s.add(Run(run_id="c" * 32, job="nightly", holder="h", started_at=old, finished_at=old, status="finished"))
    daemon = Daemon(svc)
    clock.advance(60)
    ok, state = daemon.health()
    assert ok and state["jobs"]["nightly"]["overdue_since"] is None, state  # missed nights: the catch-up's
    clock.advance(timedelta(hours=14).total_seconds())  # 02:00 passed, within the 6 h grace
    assert daemon.health()[0]
    clock.advance(timedelta(hours=6).total_seconds())  # 08:01: 02:00 passed the grace with no pass
    ok, state = daemon.health()
    assert not ok and state["jobs"]["nightly"]["overdue_since"] == datetime(2026, 6, 6, 2, tzinfo=UTC).isoformat()
    with session(svc.engine) as s:
        done = clock.now()
        s.add(Run(run_id="d" * 32, job="nightly", holder="h", started_at=done, finished_at=done, status="finished"))
    assert daemon.health()[0]


def test_daemon_health_is_not_ok_after_a_failed_pass(sqlite_url, clock):
    from datetime import timedelta

    from monitor.scheduler import Daemon
    from monitor.store.db import session
    from monitor.store.tables import Run
    from tests.helpers import services

    svc = services(sqlite_url, clock, None)
    daemon = Daemon(svc)
    now = clock.now()
    ok, state = daemon.health()
    assert ok and state["jobs"]["nightly"]["overdue_since"] is None  # just started: nothing is due yet
    with session(svc.engine) as s:
        s.add(Run(run_id="a" * 32, job="nightly", holder="h", started_at=now, finished_at=now, status="finished"))
    ok, state = daemon.health()
    assert ok and state["jobs"]["nightly"]["last_pass"]["status"] == "finished"
    with session(svc.engine) as s:
        later = now + timedelta(minutes=1)
        s.add(
            Run(
                run_id="b" * 32,
                job="nightly",
                holder="h",
                started_at=later,
                finished_at=later,
                status="truv_unreachable",
            )
        )
    ok, state = daemon.health()
    assert not ok and state["jobs"]["nightly"]["last_pass"]["status"] == "truv_unreachable"
