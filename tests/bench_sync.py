"""Issue 26's rows of the benchmark (`python -m tests.bench --only first_night,sync`): a new book learned
by the page.

- first night: 1,000 loans on tokens shared by 5 (100 stale by Truv's dates), imported with and without
  `data_as_of`, one `run --wait` against the sandbox at 300/min: every call the sandbox answered, per
  completed refresh, beside the naive peer (tests/bench_naive.py: GET every order, POST the stale) on the
  same book;
- sync: N orders (100k with --full) walked by `monitor loans sync` at 300/min, then a second sync after
  1% of the orders changed: calls, and the time those calls take at Truv's pace.

Both run in-process against the sandbox on a simulated clock (the pacer's waits advance it), so a walk
that would take minutes at 300/min takes the CPU time it needs; the figures are the sandbox's own counts.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIRST_NIGHT_CONFIG = """\
truv: {requests_per_minute: 300, concurrency: 8, timeout_seconds: 30}
policies:
  - {name: income-30d, match: {}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d], max_refreshes: 5000}
"""


def _without_dates(path: Path) -> Path:
    out = path.with_name(path.stem + "-nodates.csv")
    with path.open(newline="", encoding="utf-8") as src, out.open("w", newline="", encoding="utf-8") as dst:
        rows = list(csv.DictReader(src))
        writer = csv.DictWriter(dst, fieldnames=["loan_id", "order_id"])
        writer.writeheader()
        writer.writerows({"loan_id": r["loan_id"], "order_id": r["order_id"]} for r in rows)
    return out


def bench_first_night(backend: str, n: int, stale: int, with_dates: bool, workdir: Path) -> dict[str, Any]:
    from monitor.clock import FixedClock
    from monitor.config import parse_config
    from monitor.jobs.refresh_pass import JobPass
    from monitor.sandbox import Sandbox
    from tests.bench import database, sandbox_counts, shared_portfolio
    from tests.helpers import import_csv, services

    clock = FixedClock(datetime.now(UTC))
    sandbox = Sandbox(seed=16, clock=clock, requests_per_minute=300)
    loans = shared_portfolio(sandbox, n, stale, path=workdir / f"night-{backend}-{with_dates}.csv")
    if not with_dates:
        loans = _without_dates(loans)
    with database(backend, workdir) as url:
        svc = services(url, clock, sandbox, parse_config(FIRST_NIGHT_CONFIG))
        import_csv(svc, loans)
        start, simulated = time.perf_counter(), clock.monotonic()
        summary = JobPass(svc, svc.config.job("nightly"), wait_seconds=600).run()
        wall = time.perf_counter() - start
        svc.engine.dispose()
    counts = sandbox_counts(sandbox, stale, wall)
    return {
        "who": f"monitor/{backend}",
        "with_data_as_of": with_dates,
        "loans": n,
        **counts,
        "list_pages": summary.requests_by_endpoint.get("list_orders", 0),
        "order_reads": summary.requests_by_endpoint.get("get_order_details", 0),
        "simulated_s": round(clock.monotonic() - simulated, 1),
    }


def bench_first_night_naive(n: int, stale: int, workdir: Path) -> dict[str, Any]:
    """The peer ignores the file's dates (it GETs every order either way): one run serves both rows."""
    from monitor.clock import SystemClock
    from monitor.sandbox import Sandbox
    from tests.bench import sandbox_counts, shared_portfolio
    from tests.bench_naive import run
    from tests.live import served

    # No rate limit to wait out: the peer's calls are counted, not timed (its 429s show in the `naive` part).
    sandbox = Sandbox(seed=16, clock=SystemClock(), completion_delay=0.0, requests_per_minute=1_000_000)
    loans = shared_portfolio(sandbox, n, stale, path=workdir / "night-naive.csv")
    with served(sandbox) as base:
        start = time.perf_counter()
        run(base, loans, client_id="bench", secret="sandbox-bench", max_age=timedelta(days=30))
        wall = time.perf_counter() - start
    return {"who": "naive", "with_data_as_of": None, "loans": n, **sandbox_counts(sandbox, stale, wall)}


def bench_sync(backend: str, n: int, workdir: Path) -> dict[str, Any]:
    from sqlalchemy import func, select

    from monitor.clock import FixedClock
    from monitor.config import parse_config
    from monitor.jobs.order_sync import OrderSync
    from monitor.sandbox import Sandbox
    from monitor.store.db import session
    from monitor.store.tables import Loan
    from tests.bench import database
    from tests.helpers import import_csv, services

    clock = FixedClock(datetime.now(UTC))
    sandbox = Sandbox(seed=26, clock=clock, requests_per_minute=300, completion_delay=0.0)
    path = workdir / f"sync-{backend}-{n}.csv"
    ids = []
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["loan_id", "order_id"])  # a new book: no data_as_of
        for i in range(n):
            order = sandbox.add_order(order_number=f"Y{i}", completed_at=clock.now() - timedelta(days=i % 120))
            ids.append(order["id"])
            writer.writerow([f"Y{i:07d}", order["id"]])
    config = parse_config(FIRST_NIGHT_CONFIG)
    with database(backend, workdir) as url:
        svc = services(url, clock, sandbox, config)
        import_csv(svc, path)
        start, simulated = time.perf_counter(), clock.monotonic()
        first = OrderSync(svc).run()
        first_wall, first_sim = time.perf_counter() - start, clock.monotonic() - simulated
        with session(svc.engine) as s:
            unread = s.execute(select(func.count()).select_from(Loan).where(Loan.data_as_of.is_(None))).scalar_one()
        clock.advance(86400)
        changed = ids[:: max(1, 100)]  # 1% of the orders: a reminder moves their updated_at
        for order_id in changed:
            sandbox.remind(order_id)
        start, simulated = time.perf_counter(), clock.monotonic()
        second = OrderSync(svc).run()
        second_wall, second_sim = time.perf_counter() - start, clock.monotonic() - simulated
        svc.engine.dispose()
    return {
        "backend": backend,
        "orders": n,
        "calls": first.requests,
        "pages": first.pages,
        "loans_learned": first.loans_learned,
        "loans_without_date": unread,
        "minutes_at_300": round(first_sim / 60, 1),
        "wall_s": round(first_wall, 1),
        "second_changed": len(changed),
        "second_calls": second.requests,
        "second_orders_seen": second.orders_seen,
        "second_minutes_at_300": round(second_sim / 60, 2),
        "second_wall_s": round(second_wall, 1),
        "rss_mb": _rss_mb(),
    }


def sync_jobs(
    parts: list[str], backends: list[str], sync_orders: int, workdir: Path
) -> list[tuple[str, Callable[..., dict[str, Any]], tuple[Any, ...]]]:
    """This module's jobs for `tests.bench`, in table order (CPU-bound: simulated time, no waits)."""
    found: list[tuple[str, Callable[..., dict[str, Any]], tuple[Any, ...]]] = []
    for b in backends:
        if "first_night" in parts:
            found += [("first_night", bench_first_night, (b, 1000, 100, dated, workdir)) for dated in (True, False)]
        if "sync" in parts:
            found.append(("sync", bench_sync, (b, sync_orders, workdir)))
    if "first_night" in parts:
        found.append(("first_night", bench_first_night_naive, (1000, 100, workdir)))
    return found


def _rss_mb() -> float | None:
    try:
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    except (ImportError, OSError):
        return None


def table(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if results.get("first_night"):
        lines += [
            "first night: 1,000 loans (100 stale, tokens shared by 5), monitor against the naive peer",
            f"{'who':16} {'data_as_of':>10} {'calls':>6} {'pages':>6} {'reads':>6} {'refreshed/needed':>17} {'calls/refresh':>14}",
        ]
        for r in results["first_night"]:
            dated = "-" if r["with_data_as_of"] is None else "yes" if r["with_data_as_of"] else "no"
            lines.append(
                f"{r['who']:16} {dated:>10} {r['calls']:>6} {r.get('list_pages', '-'):>6} "
                f"{r.get('order_reads', '-'):>6} {str(r['completed']) + '/' + str(r['refreshes_needed']):>17} "
                f"{r['calls_per_completed_refresh']!s:>14}"
            )
        lines.append("")
    if results.get("sync"):
        lines += [
            "loans sync at 300/min (simulated time), then a second sync after 1% of the orders changed",
            f"{'backend':9} {'orders':>8} {'calls':>6} {'min':>6} {'wall s':>7} {'undated':>8} "
            f"{'changed':>8} {'calls':>6} {'seen':>6} {'min':>6}",
        ]
        for r in results["sync"]:
            lines.append(
                f"{r['backend']:9} {r['orders']:>8} {r['calls']:>6} {r['minutes_at_300']:>6} {r['wall_s']:>7} "
                f"{r['loans_without_date']:>8} {r['second_changed']:>8} {r['second_calls']:>6} "
                f"{r['second_orders_seen']:>6} {r['second_minutes_at_300']:>6}"
            )
        lines.append("")
    return lines


def targets(results: dict[str, Any], target: Any, bench: str) -> list[dict[str, Any]]:
    """Issue 26's wanted column against the figures."""
    found: list[dict[str, Any]] = []
    naive = next((r for r in results.get("first_night", []) if r["who"] == "naive"), None)
    peer = f" (naive {naive['calls_per_completed_refresh']}/refresh, {naive['calls']} calls)" if naive else ""
    for r in results.get("first_night", []):
        if r["who"] == "naive":
            continue
        b = r["who"].split("/")[-1]
        cmd = f"{bench} --only first_night --backends {b}"
        if r["with_data_as_of"]:
            per = r["calls_per_completed_refresh"]
            found.append(
                target(
                    "first night, 1,000 loans with data_as_of (100 stale): at most 2.5 calls per refresh all-in",
                    b,
                    f"{per} calls per refresh ({r['calls']} calls, {r['completed']} refreshed){peer}",
                    per is not None and per <= 2.5,
                    cmd,
                )
            )
        else:
            found.append(
                target(
                    "first night, 1,000 loans without data_as_of: under 250 calls (list pages and the refreshes')",
                    b,
                    f"{r['calls']} calls ({r['list_pages']} list pages, {r['order_reads']} order reads, "
                    f"{r['completed']} refreshed){peer}",
                    r["calls"] < 250,
                    cmd,
                )
            )
    for r in results.get("sync", []):
        million = r["minutes_at_300"] * 1_000_000 / r["orders"]
        found.append(
            target(
                "sync of 100k orders: at most 2,000 calls; a 1M book's reads under an hour at 300/min",
                r["backend"],
                f"{r['calls']} calls, {r['minutes_at_300']} min at 300/min (1M: {math.ceil(million)} min); "
                f"second sync {r['second_calls']} calls for {r['second_changed']} changed",
                r["calls"] <= 2000 * r["orders"] / 100_000 and million < 60 and r["loans_without_date"] == 0,
                f"{bench} --only sync --backends {r['backend']} --sync-orders 100000",
                size=r["orders"],
                wanted=100_000,
            )
        )
    return found


__all__ = ["bench_first_night", "bench_first_night_naive", "bench_sync", "sync_jobs", "table", "targets"]
