"""The benchmark: `python -m tests.bench` (short, as in CI) or `python -m tests.bench --full`.

Prints one JSON object, a table, and each target of issue 16 (and the README's) next to its figure
with PASS or MISS and a command that measures it alone. Measures, on SQLite and Postgres:
- a lender's first cron job (tests/bench_naive.py) against `monitor run` on one portfolio (500 loans,
  1,000 with --full; a tenth stale; tokens shared by 5 loans; 50 ms, 300 requests/min), both counted
  by the sandbox: API calls, 429s, refused refreshes, refreshes made / needed, calls per completed
  refresh, wall time, and the ratios;
- `monitor loans import` and `monitor plan` for N loans (10% stale): seconds and peak memory;
- one pass over stale loans against the sandbox over loopback (1 s latency, 300 requests/min):
  achieved pace as a share of the limit, 429s, API calls per completed refresh; and the same pass
  with outcomes pushed by webhook;
- webhooks verified and stored per second (wrk, 8 connections), p50/p99; on Postgres also with
  `webhooks serve --workers 2`;
- one job split by 1, 2 and 4 instances; the compliance report and `audit verify`;
- 1,000 loans imported without data_as_of, 100 of them stale by Truv's dates: refresh POSTs against
  the truly stale (none needless);
- ledger reservations per second with 1, 4 and 8 concurrent worker processes;
- the console's pages (tests/bench_console.py): cold time and p50/p95 of 40 requests;
- a new book learned by the page (tests/bench_sync.py, issue 26): first-night calls per refresh with and
  without data_as_of beside the naive peer, and `loans sync` of N orders at 300/min (simulated time).

`--full` is sized to finish in about 35 minutes on a 2-core machine. It keeps every size a target
names (1M and 5M loans for import and plan, 1,000 loans for the naive comparison, 100k loans and 1M audit
entries for the report, 100k loans for the console) and cuts the rows that took minutes without
adding information: the pass at 1 s latency runs 300 stale loans (it was 2,000, 27 minutes per
database at 300/min; the pace is steady after the first few seconds), the webhook pass 100 (the
calls per refresh do not depend on the count), the split job 1,000 loans (it was 10,000; the
finding, CPU-bound on 2 cores, shows at any size). The paced parts (naive comparison, pass, webhook
pass) spend their time waiting on their sandbox's 300/min, not on the CPU, so they run side by side,
each with its own sandbox and database, before the CPU-bound parts; `--serial` runs them one by one.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import platform
import random
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

PG_URL = os.environ.get("MONITOR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CONFIG = """\
truv: {requests_per_minute: 300, concurrency: 8, timeout_seconds: 30}
loans: {attributes: [program]}
policies:
  - {name: income-30d, match: {}, product: income, max_age: 30d, pre_closing_business_days: 10}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d], max_refreshes: MAXREF}
"""


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measured(args: list[str], workdir: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = workdir / f"m-{uuid.uuid4().hex[:8]}.json"
    full_env = {**os.environ, **(env or {}), "BENCH_OUT": str(out)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench_child", "--log-level", "warning", *args],
        cwd=Path.cwd(),
        env=full_env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"monitor {' '.join(args)} failed: {done.stderr[-2000:]}")
    result = json.loads(out.read_text())
    result["stdout"] = done.stdout
    return result


def write_loans(path: Path, n: int, now: datetime) -> None:
    rng = random.Random(n)
    with path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["loan_id", "order_id", "gse", "status", "closing_date", "data_as_of", "program"])
        for i in range(n):
            stale = i % 10 == 0
            age = timedelta(days=rng.randint(31, 120) if stale else rng.randint(0, 29), minutes=rng.randint(0, 1439))
            closing = (now + timedelta(days=rng.randint(20, 90))).date().isoformat()
            w.writerow(
                [
                    f"B{i:07d}",
                    uuid.UUID(int=rng.getrandbits(128)).hex,
                    "true" if i % 3 == 0 else "false",
                    "active",
                    closing,
                    (now - age).isoformat(),
                    rng.choice(("fha", "va", "conventional")),
                ]
            )


def bench_import_plan(backend: str, n: int, workdir: Path) -> dict[str, Any]:
    csv_path = workdir / f"loans-{n}.csv"
    if not csv_path.exists():
        write_loans(csv_path, n, datetime.now(UTC))
    cfg = workdir / "bench.yaml"
    cfg.write_text(CONFIG.replace("MAXREF", "1000"))
    with database(backend, workdir) as url:
        measured(["--database", url, "db", "upgrade"], workdir)
        imp = measured(["--database", url, "--config", str(cfg), "loans", "import", str(csv_path), "--json"], workdir)
        plan = measured(["--database", url, "--config", str(cfg), "plan", "--json", "--limit", "1000"], workdir)
    summary = json.loads(plan["stdout"])
    return {
        "backend": backend,
        "loans": n,
        "import_s": imp["seconds"],
        "import_cpu_s": imp["cpu_s"],
        "import_peak_mb": imp["peak_mb"],
        "plan_s": plan["seconds"],
        "plan_cpu_s": plan["cpu_s"],
        "plan_peak_mb": plan["peak_mb"],
        "plan_stale": summary["stale_total"],
    }


def stale_portfolio(sandbox: Any, n: int, *, prefix: str, path: Path) -> Path:
    """`n` orders in the sandbox, one employer each, and a loans CSV whose data is 40 days old."""
    from monitor.sandbox import EmployerSpec

    now = datetime.now(UTC)
    rows = [["loan_id", "order_id", "data_as_of"]]
    for i in range(n):
        order = sandbox.add_order(
            order_number=f"{prefix}{i}", employers=[EmployerSpec()], created_at=now - timedelta(days=90)
        )
        rows.append([f"{prefix}{i}", order["id"], (now - timedelta(days=40)).isoformat()])
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def bench_pass(backend: str, n: int, workdir: Path, latency: float = 1.0) -> dict[str, Any]:
    from monitor.clock import SystemClock
    from monitor.sandbox import Sandbox
    from tests.live import served

    sandbox = Sandbox(seed=1, clock=SystemClock(), completion_delay=0.0, requests_per_minute=300)
    loans = stale_portfolio(sandbox, n, prefix="P", path=workdir / f"pass-{backend}-{n}.csv")
    cfg = workdir / f"pass-{backend}.yaml"
    cfg.write_text(CONFIG.replace("MAXREF", str(n)))
    with database(backend, workdir) as url, served(sandbox, latency=latency) as base:
        env = {"TRUV_BASE_URL": base, "TRUV_CLIENT_ID": "bench", "TRUV_SECRET": "sandbox-bench"}
        measured(["--database", url, "db", "upgrade"], workdir)
        measured(["--database", url, "loans", "import", str(loans)], workdir)
        run = measured(["--database", url, "--config", str(cfg), "run", "--json", "--wait", "600"], workdir, env)
    s = json.loads(run["stdout"])
    sent = sorted(datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in sandbox.journal())
    busy = (sent[-1] - sent[0]).total_seconds() if len(sent) > 1 else 0.0
    # The pace while requests flow: a pass's first answer and last poll each add a latency of idle time
    # that no pacing can remove, which weighs on a short pass but not on a night's work.
    busy_share = round((len(sent) - 1) / busy * 60 / 300, 3) if busy else None
    # The pace while refreshes remain to be sent: from the first request to the last refresh POST. After it
    # only the outcomes' polls are left, one per refresh, and they cannot fill 300/min by themselves.
    journal = sorted(sandbox.journal(), key=lambda e: e["at"])
    posts = [datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in journal if e["method"] == "POST"]
    submitting = [t for t in sent if posts and t <= posts[-1]]
    span = (submitting[-1] - submitting[0]).total_seconds() if len(submitting) > 1 else 0.0
    submit_share = round((len(submitting) - 1) / span * 60 / 300, 3) if span else None
    elapsed = (datetime.fromisoformat(s["finished_at"]) - datetime.fromisoformat(s["started_at"])).total_seconds()
    by = s["requests_by_endpoint"]
    # One-time reads of a first night: each order's details, each connection's baseline report.
    steady = s["requests"] - by.get("get_order_details", 0) - _baselines(by)
    completed = max(1, s["completed"])
    return {
        "backend": backend,
        "stale_loans": n,
        "latency_s": latency,
        "pass_s": round(elapsed, 1),
        "requests": s["requests"],
        "achieved_rpm": round(s["requests"] / elapsed * 60, 1),
        "share_of_limit": round(s["requests"] / elapsed * 60 / 300, 3),
        "share_while_sending": busy_share,
        "share_while_submitting": submit_share,
        "http_429": s["throttled"],
        "completed": s["completed"],
        "calls_per_refresh_first_pass": round(s["requests"] / completed, 2),
        "calls_per_refresh_polling": round(steady / completed, 2),
        "by_endpoint": by,
        "peak_mb": run["peak_mb"],
    }


# -- a lender's first cron job against monitor (issue 16, point 1) --------------------------------

NAIVE_LATENCY = 0.05
NAIVE_RPM = 300
NAIVE_GROUP = 5  # loans sharing one access_token (one borrower's connection on several loans)


def shared_portfolio(sandbox: Any, n: int, stale: int, *, path: Path) -> Path:
    """`n` orders whose tokens are each shared by NAIVE_GROUP loans, `stale` of them (whole groups,
    spread over the file) 40 days old and the rest 5; a loans CSV with those data dates."""
    from monitor.sandbox import EmployerSpec

    now = datetime.now(UTC)
    groups = n // NAIVE_GROUP
    every = max(1, groups // max(1, stale // NAIVE_GROUP))
    rows = [["loan_id", "order_id", "data_as_of"]]
    for i in range(n):
        group = i // NAIVE_GROUP
        is_stale = group % every == 0 and group // every < stale // NAIVE_GROUP
        done = now - timedelta(days=40 if is_stale else 5)
        order = sandbox.add_order(
            order_number=f"N{i}", employers=[EmployerSpec(access_token=f"naive-token-{group}")], completed_at=done
        )
        rows.append([f"N{i}", order["id"], done.isoformat()])
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def sandbox_counts(sandbox: Any, stale: int, seconds: float) -> dict[str, Any]:
    """What the sandbox itself saw: the independent measure for both sides."""
    journal = sandbox.journal()
    made = [e["created_order_id"] for e in sandbox.refreshes()]
    completed = sum(1 for o in made if all(e["status"] == "completed" for e in sandbox.order(o)["employers"]))
    return {
        "calls": len(journal),
        "http_429": sum(1 for e in journal if e.get("status") == 429),
        "refused_refreshes": sum(1 for e in journal if e.get("method") == "POST" and e.get("refused")),
        "refreshes_made": len(made),
        "refreshes_needed": stale,
        "completed": completed,
        "calls_per_completed_refresh": round(len(journal) / completed, 2) if completed else None,
        "wall_s": round(seconds, 1),
    }


def _naive_sandbox() -> Any:
    from monitor.clock import SystemClock
    from monitor.sandbox import Sandbox

    return Sandbox(seed=16, clock=SystemClock(), completion_delay=0.0, requests_per_minute=NAIVE_RPM)


def bench_naive(n: int, stale: int, workdir: Path) -> dict[str, Any]:
    """tests/bench_naive.py (GET every order, POST each stale one, retry 429s) over loopback."""
    from tests.live import served

    sandbox = _naive_sandbox()
    loans = shared_portfolio(sandbox, n, stale, path=workdir / f"naive-{n}.csv")
    with served(sandbox, latency=NAIVE_LATENCY) as base:
        env = {**os.environ, "TRUV_BASE_URL": base, "TRUV_CLIENT_ID": "bench", "TRUV_SECRET": "sandbox-bench"}
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tests.bench_naive", "--loans", str(loans), "--max-age-days", "30"],
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"tests.bench_naive failed: {done.stderr[-2000:]}")
    return {"who": "naive", "loans": n, **sandbox_counts(sandbox, stale, seconds), "own_view": json.loads(done.stdout)}


def bench_monitor_vs_naive(backend: str, n: int, stale: int, workdir: Path) -> dict[str, Any]:
    """`monitor run --wait` on the same portfolio (imported with its data dates) and sandbox settings."""
    from tests.live import served

    sandbox = _naive_sandbox()
    loans = shared_portfolio(sandbox, n, stale, path=workdir / f"vs-naive-{backend}-{n}.csv")
    cfg = workdir / f"vs-naive-{backend}.yaml"
    cfg.write_text(CONFIG.replace("MAXREF", str(n)))
    with database(backend, workdir) as url, served(sandbox, latency=NAIVE_LATENCY) as base:
        env = {"TRUV_BASE_URL": base, "TRUV_CLIENT_ID": "bench", "TRUV_SECRET": "sandbox-bench"}
        measured(["--database", url, "db", "upgrade"], workdir)
        measured(["--database", url, "--config", str(cfg), "loans", "import", str(loans)], workdir)
        run = measured(["--database", url, "--config", str(cfg), "run", "--json", "--wait", "600"], workdir, env)
    return {"who": f"monitor/{backend}", "loans": n, **sandbox_counts(sandbox, stale, run["seconds"])}


UNKNOWN_DATES_CONFIG = """\
truv: {requests_per_minute: 6000, concurrency: 8, timeout_seconds: 30}
loans: {attributes: [program]}
policies:
  - {name: employment-30d, match: {}, product: employment, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [employment-30d], max_refreshes: 5000}
"""


def bench_unknown_dates(backend: str, n: int, workdir: Path, latency: float = 0.05) -> dict[str, Any]:
    """Loans imported without data_as_of, 10% older than max_age by Truv's dates (DESIGN.md rule 11):
    the refresh POSTs must equal the truly stale loans, with none spent on fresh data."""
    from monitor.clock import SystemClock
    from monitor.sandbox import Sandbox
    from monitor.sandbox.scenario import generate_portfolio
    from tests.live import served

    sandbox = Sandbox(seed=5, clock=SystemClock(), completion_delay=0.0, requests_per_minute=6000)
    rows = generate_portfolio(sandbox, n, seed=5, shared_token_share=0.0, failing_share=0.0, stale_share=0.1)
    truly_stale = {r["order_id"] for r in rows if r["loan_id"] in set(rows.stale_loan_ids(30, datetime.now(UTC)))}
    loans = workdir / f"unknown-{n}.csv"
    with loans.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    cfg = workdir / "unknown.yaml"
    cfg.write_text(UNKNOWN_DATES_CONFIG)
    with database(backend, workdir) as url, served(sandbox, latency=latency) as base:
        env = {"TRUV_BASE_URL": base, "TRUV_CLIENT_ID": "bench", "TRUV_SECRET": "sandbox-bench"}
        measured(["--database", url, "db", "upgrade"], workdir)
        measured(["--database", url, "--config", str(cfg), "loans", "import", str(loans)], workdir)
        run = measured(["--database", url, "--config", str(cfg), "run", "--json"], workdir, env)
    s = json.loads(run["stdout"])
    posted = [e["parent_order_id"] for e in sandbox.journal() if e.get("method") == "POST"]
    return {
        "backend": backend,
        "loans": n,
        "truly_stale": len(truly_stale),
        "refresh_posts": len(posted),
        "needless": len([o for o in posted if o not in truly_stale]),
        "missed": len(truly_stale - set(posted)),
        "order_reads": s["requests_by_endpoint"].get("get_order_details", 0),
        "pass_s": round(
            (datetime.fromisoformat(s["finished_at"]) - datetime.fromisoformat(s["started_at"])).total_seconds(), 1
        ),
    }


def _reserve_worker(url: str, worker: int, count: int, start_at: float, out: Any) -> None:
    from monitor.core.budget import Limits, ReservationRequest
    from monitor.store import ledger
    from monitor.store.db import make_engine, session

    engine = make_engine(url)
    while time.time() < start_at:
        time.sleep(0.001)
    begin = time.perf_counter()
    for i in range(count):
        with session(engine) as s:
            ledger.reserve(
                s,
                ReservationRequest(
                    run_id="bench",
                    job="bench",
                    policy="p",
                    loan_id=f"W{worker}-{i}",
                    product="income",
                    parent_order_id="o",
                    gse=False,
                    suborders={f"t{worker}-{i}": ["e"]},
                ),
                limits=Limits(),
                now=datetime.now(UTC),
            )
    out.put(time.perf_counter() - begin)


def bench_ledger(backend: str, workers: int, per_worker: int, workdir: Path) -> dict[str, Any]:
    from monitor.store.db import make_engine, upgrade

    with database(backend, workdir) as url:
        upgrade(make_engine(url))
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        start_at = time.time() + 2.0
        procs = [
            ctx.Process(target=_reserve_worker, args=(url, w, per_worker, start_at, queue)) for w in range(workers)
        ]
        for p in procs:
            p.start()
        times = [queue.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
    total = workers * per_worker
    return {"backend": backend, "workers": workers, "reservations": total, "per_second": round(total / max(times), 1)}


def _webhook_load(port: int, n: int, secret: str, out: Any) -> None:
    import hashlib
    import hmac
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def one(i: int, client: httpx.Client) -> float:
        payload = {
            "webhook_id": uuid.uuid4().hex,
            "event_type": "task-status-updated",
            "link_id": f"l{i % 500}",
            "status": "done",
            "updated_at": datetime.now(UTC).isoformat(),
            "user_id": "u",
            "template_id": None,
        }
        body = json.dumps(payload).encode()
        sign = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        t0 = time.perf_counter()
        r = client.post(
            "/webhooks/truv", content=body, headers={"X-WEBHOOK-SIGN": sign, "Content-Type": "application/json"}
        )
        r.raise_for_status()
        return time.perf_counter() - t0

    with (
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=10, limits=httpx.Limits(max_connections=16)
        ) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        out.put(list(pool.map(lambda i: one(i, client), range(n))))


def _wrk_load(port: int, secret: str, workdir: Path, seconds: int = 8) -> dict[str, Any]:
    """wrk (C) as the load generator: a Python one would take most of this 2-core machine's CPU.

    Every request is a distinct signed event (more than the run can send), so no duplicate is timed.
    """
    import hashlib
    import hmac
    import re

    # Bodies come from a data file: a Lua chunk holding them as literals hits Lua's constant limit.
    data = workdir / "webhooks.tsv"
    with data.open("w", encoding="utf-8") as handle:
        for i in range(60_000):
            body = json.dumps(
                {
                    "webhook_id": uuid.uuid4().hex,
                    "event_type": "task-status-updated",
                    "link_id": f"l{i % 500}",
                    "status": "done",
                    "updated_at": datetime.now(UTC).isoformat(),
                    "user_id": "u",
                }
            )
            handle.write(
                "v1=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest() + "\t" + body + "\n"
            )
    script = workdir / "webhooks.lua"
    script.write_text(
        "local reqs = {}\n"
        f'for line in io.lines("{data}") do\n'
        '  local sign, body = line:match("^([^\\t]+)\\t(.*)$")\n'
        '  reqs[#reqs + 1] = wrk.format("POST", "/webhooks/truv", {["Host"]="127.0.0.1", '
        '["Content-Type"]="application/json", ["X-WEBHOOK-SIGN"]=sign}, body)\n'
        "end\n"
        "local n = 0\n"
        "request = function()\n  n = n + 1\n  return reqs[n]\nend\n"
    )
    done = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    out = done.stdout

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value = float(m.group(1))
        return round(value / 1000 if m.group(2) == "us" else value * 1000 if m.group(2) == "s" else value, 1)

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "loader": "wrk",
        "events": int(float(rate.group(1)) * seconds) if rate else 0,
        "per_second": float(rate.group(1)) if rate else 0.0,
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def bench_webhooks(backend: str, n: int, workdir: Path, workers: int = 1) -> dict[str, Any]:
    """`webhooks serve --workers N` under wrk, 8 connections (a Python loader if wrk is missing)."""
    import socket

    import httpx

    secret = "sandbox-bench-webhooks"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    with database(backend, workdir) as url:
        measured(["--database", url, "db", "upgrade"], workdir)
        env = {**os.environ, "TRUV_SECRET": secret, "MONITOR_DATABASE_URL": url}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor",
                "--log-level",
                "warning",
                "webhooks",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            if shutil.which("wrk"):
                return {"backend": backend, "workers": workers, **_wrk_load(port, secret, workdir)}
            ctx = multiprocessing.get_context("spawn")
            queue = ctx.Queue()
            loaders = [ctx.Process(target=_webhook_load, args=(port, n // 2, secret, queue)) for _ in range(2)]
            begin = time.perf_counter()
            for p in loaders:
                p.start()
            latencies = sorted(x for _ in loaders for x in queue.get(timeout=600))
            elapsed = time.perf_counter() - begin
            for p in loaders:
                p.join()
        finally:
            server.terminate()
            server.wait(timeout=10)
    return {
        "backend": backend,
        "workers": workers,
        "loader": "python",
        "events": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
    }


def bench_shared(backend: str, n: int, instances: int, workdir: Path) -> dict[str, Any]:
    """A pass of `n` stale loans split by `instances` processes on one job (`parallel: true`)."""
    from monitor.clock import SystemClock
    from monitor.sandbox import Sandbox
    from tests.live import served

    sandbox = Sandbox(seed=2, clock=SystemClock(), completion_delay=0.0, requests_per_minute=10_000_000)
    loans = stale_portfolio(sandbox, n, prefix="S", path=workdir / f"shared-{n}.csv")
    cfg = workdir / "shared.yaml"
    cfg.write_text(
        "truv: {requests_per_minute: 60000, concurrency: 8}\n"
        "policies:\n  - {name: p, match: {}, product: income, max_age: 30d}\n"
        "jobs:\n  - {name: shared, schedule: '0 2 * * *', policies: [p], parallel: true, max_refreshes: 1000000}\n"
    )
    with database(backend, workdir) as url, served(sandbox) as base:
        env = {
            **os.environ,
            "TRUV_BASE_URL": base,
            "TRUV_CLIENT_ID": "b",
            "TRUV_SECRET": "sandbox-b",
            "MONITOR_DATABASE_URL": url,
        }
        measured(["db", "upgrade"], workdir, env)
        measured(["loans", "import", str(loans)], workdir, env)
        begin = time.perf_counter()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "monitor",
                    "--log-level",
                    "warning",
                    "--config",
                    str(cfg),
                    "run",
                    "shared",
                    "--json",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(instances)
        ]
        outs = [p.communicate(timeout=3600) for p in procs]
        elapsed = time.perf_counter() - begin
    submitted = sum(json.loads(out)["submitted"] for out, _ in outs)
    return {
        "backend": backend,
        "loans": n,
        "instances": instances,
        "pass_s": round(elapsed, 1),
        "submitted": submitted,
        "refreshes_per_s": round(submitted / elapsed, 1),
    }


def _seed_history(url: str, loans_csv: Path, n_events: int, workdir: Path) -> None:
    """Bulk history for the report benchmark: reservations and a valid audit chain of n_events."""
    import hashlib

    from sqlalchemy import delete, insert, select

    from monitor.core.audit import GENESIS, chain_hash
    from monitor.store.db import make_engine
    from monitor.store.tables import AuditHead, Event, Reservation

    cfg = workdir / "report.yaml"
    cfg.write_text(CONFIG.replace("MAXREF", "1000"))  # declares the file's program column
    measured(["--database", url, "--config", str(cfg), "loans", "import", str(loans_csv)], workdir)
    engine = make_engine(url)
    now = datetime.now(UTC)
    rng = random.Random(7)
    with open(loans_csv, encoding="utf-8") as handle:
        loan_ids = [line.split(",", 1)[0] for line in handle.readlines()[1:]]
    reasons = ("token_budget", "gse_budget", "needs_reauth", "max_refreshes")
    with engine.begin() as conn:
        reservations = []
        for i in range(n_events // 5):
            loan = loan_ids[i % len(loan_ids)]
            state = rng.choice(("completed", "completed", "completed", "failed", "lost"))
            reservations.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "run_id": "bench",
                    "job": "nightly",
                    "policy": "p",
                    "loan_id": loan,
                    "product": "income",
                    "parent_order_id": "o",
                    "gse": i % 3 == 0,
                    "billable": i % 3 != 0,
                    "state": state,
                    "reserved_at": now - timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 1439)),
                    "refresh_order_id": None if state == "lost" else hashlib.md5(str(i).encode()).hexdigest(),
                    "outcome": "login_error" if state == "failed" else state,
                    "suborders": "{}",
                }
            )
            if len(reservations) == 20_000:
                conn.execute(insert(Reservation.__table__), reservations)
                reservations = []
        if reservations:
            conn.execute(insert(Reservation.__table__), reservations)
        head = conn.execute(select(AuditHead.__table__.c.seq, AuditHead.__table__.c.hash)).first()
        first = (head.seq if head else 0) + 1  # `loans import` has written its own entry already
        prev, batch = (head.hash if head else GENESIS), []
        for seq in range(first, first + n_events):
            kind = rng.choice(("reserved", "submitted", "outcome", "skipped"))
            detail = json.dumps({"reason": rng.choice(reasons)} if kind == "skipped" else {}, sort_keys=True)
            entry = {
                "seq": seq,
                "at": now - timedelta(seconds=n_events - seq),
                "kind": kind,
                "run_id": "bench",
                "loan_id": loan_ids[seq % len(loan_ids)],
                "reservation_id": None,
                "actor": "bench",
                "purpose": "bench",
                "version": "bench",
                "detail": detail,
            }
            digest = chain_hash(prev, entry)
            batch.append({**entry, "prev_hash": prev, "hash": digest})
            prev = digest
            if len(batch) == 20_000:
                conn.execute(insert(Event.__table__), batch)
                batch = []
        if batch:
            conn.execute(insert(Event.__table__), batch)
        conn.execute(delete(AuditHead.__table__))
        conn.execute(insert(AuditHead.__table__).values(id=1, seq=first + n_events - 1, hash=prev))
    engine.dispose()


def bench_report(backend: str, n_loans: int, n_events: int, workdir: Path) -> dict[str, Any]:
    csv_path = workdir / f"report-loans-{n_loans}.csv"
    if not csv_path.exists():
        write_loans(csv_path, n_loans, datetime.now(UTC))
    today = datetime.now(UTC).date()
    with database(backend, workdir) as url:
        measured(["--database", url, "db", "upgrade"], workdir)
        _seed_history(url, csv_path, n_events, workdir)
        html_run = measured(
            [
                "--database",
                url,
                "report",
                "--from",
                str(today - timedelta(days=90)),
                "--to",
                str(today),
                "--format",
                "html",
                "--out",
                str(workdir / "r.html"),
            ],
            workdir,
        )
        csv_run = measured(
            [
                "--database",
                url,
                "report",
                "--from",
                str(today - timedelta(days=90)),
                "--to",
                str(today),
                "--format",
                "csv",
                "--out",
                str(workdir / "r.csv"),
            ],
            workdir,
        )
        verify = measured(["--database", url, "audit", "verify", "--json"], workdir)
    return {
        "backend": backend,
        "loans": n_loans,
        "audit_entries": n_events,
        "html_s": html_run["seconds"],
        "html_peak_mb": html_run["peak_mb"],
        "csv_s": csv_run["seconds"],
        "csv_peak_mb": csv_run["peak_mb"],
        "verify_s": verify["seconds"],
        "verify_peak_mb": verify["peak_mb"],
    }


def bench_pass_webhooks(backend: str, n: int, workdir: Path, latency: float = 1.0) -> dict[str, Any]:
    """The same pass with outcomes pushed by webhook (sandbox pump -> `monitor webhooks serve`), no --wait."""
    import socket

    from sqlalchemy import func, select

    from monitor.clock import SystemClock
    from monitor.sandbox import Sandbox
    from monitor.store.db import make_engine, session
    from monitor.store.tables import Reservation
    from tests.live import served

    secret = "sandbox-bench-hooks"
    sandbox = Sandbox(seed=3, clock=SystemClock(), completion_delay=0.0, requests_per_minute=300, webhook_secret=secret)
    loans = stale_portfolio(sandbox, n, prefix="W", path=workdir / f"hooks-{backend}-{n}.csv")
    cfg = workdir / f"hooks-{backend}.yaml"
    cfg.write_text(CONFIG.replace("MAXREF", str(n)))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    with database(backend, workdir) as url:
        env = {**os.environ, "TRUV_SECRET": secret, "TRUV_CLIENT_ID": "bench", "MONITOR_DATABASE_URL": url}
        measured(["db", "upgrade"], workdir, env)
        measured(["loans", "import", str(loans)], workdir, env)
        receiver = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--log-level", "warning", "webhooks", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with served(sandbox, latency=latency, webhook_url=f"http://127.0.0.1:{port}/webhooks/truv") as base:
                run = measured(["--config", str(cfg), "run", "--json"], workdir, {**env, "TRUV_BASE_URL": base})
                engine = make_engine(url)
                deadline = time.monotonic() + 120
                completed = 0
                while time.monotonic() < deadline:
                    with session(engine) as s:
                        completed = s.execute(select(func.count()).where(Reservation.state == "completed")).scalar_one()
                    if completed >= n:
                        break
                    time.sleep(0.5)
                engine.dispose()
                # The next pass finds nothing stale; it reads the reports of the refreshes that
                # completed by webhook (income monitoring), which belong to this night's cost.
                after = measured(["--config", str(cfg), "run", "--json"], workdir, {**env, "TRUV_BASE_URL": base})
        finally:
            receiver.terminate()
            receiver.wait(timeout=10)
    s = json.loads(run["stdout"])
    later = json.loads(after["stdout"])
    by = dict(s["requests_by_endpoint"])
    for endpoint, count in later["requests_by_endpoint"].items():
        by[endpoint] = by.get(endpoint, 0) + count
    requests = s["requests"] + later["requests"]
    steady = requests - by.get("get_order_details", 0) - _baselines(by)
    return {
        "backend": backend,
        "stale_loans": n,
        "completed_by_webhook": completed,
        "reports_read": later.get("reports_read", 0),
        "requests": requests,
        "calls_per_refresh_first_pass": round(requests / max(1, completed), 2),
        "calls_per_refresh_webhooks": round(steady / max(1, completed), 2),
        "by_endpoint": by,
    }


def _baselines(by_endpoint: dict[str, int]) -> int:
    """Reports read before a connection's first refresh (its original order's data): once per connection."""
    return sum(n for endpoint, n in by_endpoint.items() if endpoint.endswith("_baseline"))


def machine(backends: list[str]) -> dict[str, Any]:
    """The machine the figures come from, named in the README with them."""
    mem = 0
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            mem = int(handle.readline().split()[1]) // 1024 // 1024
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    found: dict[str, Any] = {
        "name": platform.node(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": mem,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "sqlite": sqlite3.sqlite_version,
    }
    if "postgres" in backends:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            found["postgres"] = conn.execute(text("SHOW server_version")).scalar_one().split()[0]
            found["postgres_host"] = "same host" if "127.0.0.1" in PG_URL or "localhost" in PG_URL else "remote"
        engine.dispose()
    return found


def revision() -> dict[str, Any]:
    """The commit measured; `dirty` when tracked files differ from it (the figures are then of no commit)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": None if status is None else bool(status)}


def naive_table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    first = rows[0]
    lines = [
        f"a naive cron script against monitor ({first['loans']} loans, {first['refreshes_needed']} stale, tokens "
        f"shared by {NAIVE_GROUP} loans, {NAIVE_LATENCY * 1000:g} ms, {NAIVE_RPM}/min; counted by the sandbox)",
        f"{'':16} {'calls':>6} {'429':>5} {'refused':>8} {'made/needed':>12} {'calls/refresh':>14} {'wall s':>7}",
    ]
    for r in rows:
        lines.append(
            f"{r['who']:16} {r['calls']:>6} {r['http_429']:>5} {r['refused_refreshes']:>8} "
            f"{str(r['refreshes_made']) + '/' + str(r['refreshes_needed']):>12} "
            f"{r['calls_per_completed_refresh']!s:>14} {r['wall_s']:>7}"
        )
    naive = next((r for r in rows if r["who"] == "naive"), None)

    def ratio(a: Any, b: Any) -> str:
        if a is None or b is None:
            return "-"
        return f"{a / b:.1f}x" if b else ("=" if a == b else "inf")

    for r in rows:
        if naive is None or r is naive:
            continue
        lines.append(
            f"{'naive/' + r['who'].split('/')[-1]:16} {ratio(naive['calls'], r['calls']):>6} "
            f"{ratio(naive['http_429'], r['http_429']):>5} {ratio(naive['refused_refreshes'], r['refused_refreshes']):>8} "
            f"{ratio(naive['refreshes_made'], r['refreshes_made']):>12} "
            f"{ratio(naive['calls_per_completed_refresh'], r['calls_per_completed_refresh']):>14} "
            f"{ratio(naive['wall_s'], r['wall_s']):>7}"
        )
    return [*lines, ""]


BENCH = "python -m tests.bench"


def _target(
    name: str,
    backend: str,
    figure: str,
    ok: bool,
    command: str,
    *,
    size: int | None = None,
    wanted: int | None = None,
) -> dict[str, Any]:
    """One target next to its figure; measured at another size than the target names, it is shown but not judged."""
    status = "PASS" if ok else "MISS"
    if wanted is not None and size != wanted:
        status, figure = "-", f"{figure} (at {size:,}; the target is for {wanted:,})"
    return {"target": name, "backend": backend, "figure": figure, "status": status, "command": command}


def _flat(rows: list[dict[str, Any]], key: str) -> tuple[str, bool] | None:
    """Peak memory at the largest size against the smallest: flat when within a quarter (the interpreter
    and the libraries alone are most of the smaller figure)."""
    if len(rows) < 2:
        return None
    small, large = min(rows, key=lambda r: r["loans"]), max(rows, key=lambda r: r["loans"])
    figure = f"{small[key]} MB at {small['loans']:,}, {large[key]} MB at {large['loans']:,}"
    return figure, large[key] <= small[key] * 1.25


# Issue 26: a 5M-loan book on one Truv secret.
BOOK = 5_000_000


def _book_targets(backend: str, top: dict[str, Any]) -> list[dict[str, Any]]:
    """Import and plan of a 5M-loan book, each against its time and peak memory."""
    label = {"sqlite": "SQLite", "postgres": "Postgres"}[backend]
    cmd = f"{BENCH} --only import_plan --backends {backend} --sizes 100000,1000000,{BOOK}"
    size = {"size": top["loans"], "wanted": BOOK}
    imp_s, imp_mb, plan_s, plan_mb = top["import_s"], top["import_peak_mb"], top["plan_s"], top["plan_peak_mb"]
    return [
        _target(
            f"import 5M loans ({label}): at most 120 s and 150 MB",
            backend,
            f"{imp_s} s ({top.get('import_cpu_s', '-')} s CPU), {imp_mb} MB",
            imp_s <= 120 and imp_mb <= 150,
            cmd,
            **size,
        ),
        _target(
            "plan 5M loans: at most 15 s and 150 MB",
            backend,
            f"{plan_s} s ({top.get('plan_cpu_s', '-')} s CPU), {plan_mb} MB",
            plan_s <= 15 and plan_mb <= 150,
            cmd,
            **size,
        ),
    ]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 16's targets and the README's, each with its figure from `results`, PASS/MISS, and a command
    that measures it alone."""
    found: list[dict[str, Any]] = []
    million = 1_000_000
    backends = sorted({r["backend"] for r in results.get("import_plan", [])}, key=["sqlite", "postgres"].index)
    for b in backends:
        rows = [r for r in results["import_plan"] if r["backend"] == b]
        top = max(rows, key=lambda r: r["loans"])
        cmd = f"{BENCH} --only import_plan --backends {b} --sizes 10000,{million}"
        size = {"size": top["loans"], "wanted": million}
        found.append(
            _target("loans import, 1M loans: under 30 s", b, f"{top['import_s']} s", top["import_s"] < 30, cmd, **size)
        )
        found.append(
            _target(
                "loans import, 1M loans: under 150 MB",
                b,
                f"{top['import_peak_mb']} MB",
                top["import_peak_mb"] < 150,
                cmd,
                **size,
            )
        )
        flat = _flat(rows, "import_peak_mb")
        if flat:
            found.append(_target("loans import: memory flat (largest within 1.25x of smallest)", b, *flat, cmd))
        if b == "sqlite":
            found.append(_target("plan, 1M loans: under 5 s", b, f"{top['plan_s']} s", top["plan_s"] < 5, cmd, **size))
        flat = _flat(rows, "plan_peak_mb")
        if flat:
            found.append(_target("plan: memory flat (largest within 1.25x of smallest)", b, *flat, cmd))
        found += _book_targets(b, top)
    naive = next((r for r in results.get("naive", []) if r["who"] == "naive"), None)
    for r in results.get("naive", []):
        if r is naive:
            continue
        b = r["who"].split("/")[-1]
        fewer = naive is None or r["calls"] < naive["calls"]
        found.append(
            _target(
                "naive comparison: monitor makes fewer calls, no 429, no refused refresh",
                b,
                f"{r['calls']} calls (naive {naive['calls'] if naive else '-'}), {r['http_429']} x 429, "
                f"{r['refused_refreshes']} refused, {r['refreshes_made']}/{r['refreshes_needed']}",
                fewer and r["http_429"] == 0 and r["refused_refreshes"] == 0,
                f"{BENCH} --only naive --backends {b} --naive-loans 1000",
                size=r["loans"],
                wanted=1000,
            )
        )
    for r in results.get("webhooks", []):
        if r["backend"] != "sqlite" or r["workers"] != 1:
            continue
        cmd = f"{BENCH} --only webhooks --backends sqlite"
        found.append(
            _target(
                "webhooks, SQLite, 8 connections: at least 1,000 verified and stored per s",
                "sqlite",
                f"{r['per_second']}/s",
                r["per_second"] >= 1000,
                cmd,
            )
        )
        found.append(_target("webhooks, SQLite: p99 under 50 ms", "sqlite", f"{r['p99_ms']} ms", r["p99_ms"] < 50, cmd))
    for r in results.get("pass", []):
        found.append(
            _target(
                "pass at 1 s latency: at least 95% of 300/min while refreshes remain to send, no 429",
                r["backend"],
                f"{(r.get('share_while_submitting') or 0):.1%} while submitting; {r['share_of_limit']:.1%} of the "
                f"whole pass with its polling tail; {r['http_429']} x 429",
                (r.get("share_while_submitting") or 0) >= 0.95 and r["http_429"] == 0,
                f"{BENCH} --only pass --backends {r['backend']} --pass-loans {r['stale_loans']}",
            )
        )
    for r in results.get("pass_webhooks", []):
        found.append(
            _target(
                "pass by webhook: at most 2.0 calls per completed refresh",
                r["backend"],
                f"{r['calls_per_refresh_webhooks']}",
                r["calls_per_refresh_webhooks"] <= 2.0,
                f"{BENCH} --only pass_webhooks --backends {r['backend']} --pass-loans {r['stale_loans']}",
            )
        )
    for r in results.get("unknown_dates", []):
        found.append(
            _target(
                "loans without data_as_of: refresh POSTs = truly stale",
                r["backend"],
                f"{r['refresh_posts']} POSTs for {r['truly_stale']}, {r['needless']} needless, {r['missed']} missed",
                r["needless"] == 0 and r["missed"] == 0,
                f"{BENCH} --only unknown_dates --backends {r['backend']}",
            )
        )
    for r in results.get("report", []):
        worst_s, worst_mb = max(r["html_s"], r["csv_s"]), max(r["html_peak_mb"], r["csv_peak_mb"])
        found.append(
            _target(
                "report over 100k loans and 1M audit entries: under 30 s and 500 MB",
                r["backend"],
                f"{worst_s} s, {worst_mb} MB (slower of HTML and CSV)",
                worst_s < 30 and worst_mb < 500,
                f"{BENCH} --only report --backends {r['backend']} --full",
                size=r["audit_entries"],
                wanted=million,
            )
        )
    for r in results.get("console", []):
        found.append(
            _target(
                "console, 100k loans: every page's p95 under 200 ms",
                r["backend"],
                f"worst p95 {r['worst_p95_ms']} ms",
                r["worst_p95_ms"] < 200,
                f"{BENCH} --only console --backends {r['backend']} --console-loans 100000",
                size=r["loans"],
                wanted=100_000,
            )
        )
    from tests.bench_sync import targets as sync_targets

    found += sync_targets(results, _target, BENCH)
    return found


def targets_table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = ["targets"]
    for t in rows:
        lines.append(f"{t['status']:4} {t['backend']:8} {t['target']}: {t['figure']}")
        lines.append(f"{'':14}{t['command']}")
    return lines


def table(results: dict[str, Any]) -> str:
    lines = [
        *naive_table(results.get("naive", [])),
        "import / plan",
        f"{'backend':9} {'loans':>9} {'import s':>9} {'MB':>7} {'plan s':>8} {'MB':>7}",
    ]
    for r in results["import_plan"]:
        lines.append(
            f"{r['backend']:9} {r['loans']:>9} {r['import_s']:>9} {r['import_peak_mb']:>7} "
            f"{r['plan_s']:>8} {r['plan_peak_mb']:>7}"
        )
    lines += [
        "",
        "pass against the sandbox (1 s latency, limit 300/min)",
        f"{'backend':9} {'loans':>6} {'s':>7} {'req':>6} {'rpm':>7} {'share (sending)':>16} {'429':>4} {'calls/refresh':>14}",
    ]
    for r in results["pass"]:
        lines.append(
            f"{r['backend']:9} {r['stale_loans']:>6} {r['pass_s']:>7} {r['requests']:>6} {r['achieved_rpm']:>7} "
            f"{r['share_of_limit']:>6} ({r['share_while_sending']}) {r['http_429']:>4} {r['calls_per_refresh_polling']:>6} (first {r['calls_per_refresh_first_pass']})"
        )
    lines += [
        "",
        "the pass with outcomes by webhook",
        f"{'backend':9} {'loans':>6} {'completed':>10} {'calls/refresh':>14}",
    ]
    for r in results.get("pass_webhooks", []):
        lines.append(
            f"{r['backend']:9} {r['stale_loans']:>6} {r['completed_by_webhook']:>10} "
            f"{r['calls_per_refresh_webhooks']:>6} (first {r['calls_per_refresh_first_pass']})"
        )
    lines += [
        "",
        "webhooks (verified and stored; load generator on the same machine)",
        f"{'backend':9} {'workers':>8} {'events':>7} {'per s':>8} {'p50 ms':>7} {'p99 ms':>7}",
    ]
    for r in results.get("webhooks", []):
        lines.append(
            f"{r['backend']:9} {r['workers']:>8} {r['events']:>7} {r['per_second']:>8} {r['p50_ms']:>7} {r['p99_ms']:>7}"
        )
    lines += [
        "",
        "one job split by several instances (sandbox without latency)",
        f"{'backend':9} {'loans':>7} {'inst':>5} {'s':>7} {'refreshes/s':>12}",
    ]
    for r in results.get("shared", []):
        lines.append(
            f"{r['backend']:9} {r['loans']:>7} {r['instances']:>5} {r['pass_s']:>7} {r['refreshes_per_s']:>12}"
        )
    lines += [
        "",
        "compliance report and audit verify",
        f"{'backend':9} {'loans':>7} {'entries':>8} {'html s':>7} {'MB':>6} {'csv s':>6} {'MB':>6} {'verify s':>8} {'MB':>6}",
    ]
    for r in results.get("report", []):
        lines.append(
            f"{r['backend']:9} {r['loans']:>7} {r['audit_entries']:>8} {r['html_s']:>7} {r['html_peak_mb']:>6} "
            f"{r['csv_s']:>6} {r['csv_peak_mb']:>6} {r['verify_s']:>8} {r['verify_peak_mb']:>6}"
        )
    lines += [
        "",
        "loans imported without data_as_of: refreshes against Truv's own dates",
        f"{'backend':9} {'loans':>6} {'stale':>6} {'POSTs':>6} {'needless':>9} {'missed':>7} {'reads':>6} {'s':>6}",
    ]
    for r in results.get("unknown_dates", []):
        lines.append(
            f"{r['backend']:9} {r['loans']:>6} {r['truly_stale']:>6} {r['refresh_posts']:>6} {r['needless']:>9} "
            f"{r['missed']:>7} {r['order_reads']:>6} {r['pass_s']:>6}"
        )
    lines += ["", "ledger reservations", f"{'backend':9} {'workers':>8} {'per s':>8}"]
    for r in results["ledger"]:
        lines.append(f"{r['backend']:9} {r['workers']:>8} {r['per_second']:>8}")
    if results.get("console"):
        from tests.bench_console import table as console_table

        lines += ["", *console_table(results["console"])]
    from tests.bench_sync import table as sync_table

    lines += ["", *sync_table(results)]
    lines += [*targets_table(results.get("targets", []))]
    rev = results.get("revision", {})
    lines += [
        "",
        f"{results.get('command', BENCH)} on {rev.get('commit')}{' (dirty)' if rev.get('dirty') else ''}, "
        f"{results.get('when')}, {results.get('seconds', {}).get('total', '-')} s",
    ]
    return "\n".join(lines)


PARTS = (
    "naive",
    "import_plan",
    "pass",
    "pass_webhooks",
    "webhooks",
    "shared",
    "report",
    "unknown_dates",
    "ledger",
    "console",
    "first_night",
    "sync",
)
PACED = ("naive", "pass", "pass_webhooks")


Job = tuple[str, Callable[..., dict[str, Any]], tuple[Any, ...]]


def jobs(args: argparse.Namespace, parts: list[str], backends: list[str], workdir: Path) -> tuple[list[Job], list[Job]]:
    """The paced jobs (run side by side unless --serial) and the CPU-bound ones, in table order."""
    sizes = (
        [int(x) for x in args.sizes.split(",")]
        if args.sizes
        # 10k and 100k by default: enough to see whether import memory grows with the file.
        else ([10_000, 100_000, 1_000_000, BOOK] if args.full else [10_000, 100_000])
    )
    pass_loans = args.pass_loans or (300 if args.full else 40)
    hooks_loans = args.pass_loans or (100 if args.full else 40)
    # 500 loans keep the default run short while the naive script still outruns the limit (550 calls).
    naive_loans = args.naive_loans or (1000 if args.full else 500)
    console_loans = args.console_loans or (100_000 if args.full else 10_000)
    paced: list[Job] = []
    if "naive" in parts:
        paced.append(("naive", bench_naive, (naive_loans, naive_loans // 10, workdir)))
    for b in backends:
        if "naive" in parts:
            paced.append(("naive", bench_monitor_vs_naive, (b, naive_loans, naive_loans // 10, workdir)))
        if "pass" in parts:
            paced.append(("pass", bench_pass, (b, pass_loans, workdir)))
        if "pass_webhooks" in parts:
            paced.append(("pass_webhooks", bench_pass_webhooks, (b, hooks_loans, workdir)))
    serial: list[Job] = []
    for b in backends:
        if "import_plan" in parts:
            serial += [("import_plan", bench_import_plan, (b, n, workdir)) for n in sizes]
        if "webhooks" in parts:
            # A second worker only on Postgres: SQLite has one writer however many processes ask.
            serial += [
                ("webhooks", bench_webhooks, (b, 4000 if args.full else 1000, workdir, w))
                for w in ((1, 2) if b == "postgres" else (1,))
            ]
        if "shared" in parts:
            serial += [("shared", bench_shared, (b, 1000 if args.full else 300, c, workdir)) for c in (1, 2, 4)]
        if "report" in parts:
            serial.append(
                ("report", bench_report, (b, *((100_000, 1_000_000) if args.full else (5_000, 50_000)), workdir))
            )
        if "unknown_dates" in parts:
            serial.append(("unknown_dates", bench_unknown_dates, (b, 1000, workdir)))
        if "ledger" in parts:
            serial += [("ledger", bench_ledger, (b, w, 400 if args.full else 100, workdir)) for w in (1, 4, 8)]
        if "console" in parts:
            from tests.bench_console import bench_console

            serial.append(("console", bench_console, (b, console_loans, workdir)))
    from tests.bench_sync import sync_jobs

    serial += sync_jobs(parts, backends, args.sync_orders or (100_000 if args.full else 10_000), workdir)
    return paced, serial


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--full",
        action="store_true",
        help="10k/100k/1M/5M loans and every target's size (about 35 minutes on 2 cores)",
    )
    parser.add_argument("--sizes", help="comma-separated loan counts for import/plan")
    parser.add_argument("--pass-loans", type=int, help="stale loans in the pass benchmarks")
    parser.add_argument(
        "--naive-loans", type=int, help="loans in the naive-vs-monitor comparison (a tenth of them stale)"
    )
    parser.add_argument("--console-loans", type=int, help="loans under the console (10,000; 100,000 with --full)")
    parser.add_argument("--sync-orders", type=int, help="orders walked by `loans sync` (10,000; 100,000 with --full)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--skip", default="", help=f"comma-separated parts to skip: {', '.join(PARTS)}")
    parser.add_argument("--only", default="", help="comma-separated parts to run, no others")
    parser.add_argument("--serial", action="store_true", help="run the paced parts one by one, not side by side")
    parser.add_argument("--out", type=Path, help="also write the JSON here (for tests.bench_readme)")
    args = parser.parse_args()
    chosen = [p for p in args.only.split(",") if p] or list(PARTS)
    skip = {p for p in args.skip.split(",") if p}
    unknown = (set(chosen) | skip) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; parts are {', '.join(PARTS)}")
    parts = [p for p in chosen if p not in skip]
    backends = [b for b in args.backends.split(",") if b]
    begin = time.perf_counter()
    results: dict[str, Any] = {
        "command": shlex.join(["python", "-m", "tests.bench", *sys.argv[1:]]),
        "full": args.full,
        "revision": revision(),
        "machine": machine(backends),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": {},
        **{p: [] for p in PARTS},
    }
    seconds: dict[str, float] = results["seconds"]

    def timed(job: Job) -> dict[str, Any]:
        part, run, run_args = job
        start = time.perf_counter()
        try:
            return run(*run_args)
        finally:
            seconds[part] = round(seconds.get(part, 0.0) + time.perf_counter() - start, 1)

    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
        paced, serial = jobs(args, parts, backends, Path(tmp))
        start = time.perf_counter()
        if args.serial or len(paced) < 2:
            done = [timed(job) for job in paced]
        else:
            with ThreadPoolExecutor(len(paced)) as pool:
                done = list(pool.map(timed, paced))
            seconds["paced, side by side"] = round(time.perf_counter() - start, 1)
        for job, row in zip([*paced, *serial], [*done, *(timed(job) for job in serial)], strict=True):
            results[job[0]].append(row)
    seconds["total"] = round(time.perf_counter() - begin, 1)
    results["targets"] = targets(results)
    print(json.dumps(results, indent=2))
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
