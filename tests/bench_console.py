"""The console under a portfolio: every page's answer time, over real HTTP on loopback.

`python -m tests.bench_console [--loans 100000] [--backend sqlite]`, also a row of `python -m tests.bench`.
Each page is asked once cold (nothing cached), then REPEATS more times; p50/p95/max are of those, as an
operator clicking through the console meets them. The overview's full status read and the audit
chain's walk are kept 30 s and 10 min (the page says when it read them): their cold time is printed too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPEATS = 40
PAGES = (
    "/",
    "/loans",
    "/loans?stale=1",
    "/loans?stale=1&page=100",
    "/loans?needs=reauth",
    "/loans/LOAN",
    "/loans?q=ORDER",
    "/loans?q=IDSTART",
    "/loans?q=ORDERSTART",
    "/loans?page=999999",
    "/reauth",
    "/changes",
    "/ledger",
    "/ledger?exhausted=1",
    "/ledger?page=999999",
    "/audit",
    "/audit?last=1",
    "/audit?kind=reserved",
    "/audit?loan=LOAN",
    "/audit?from=TODAY",
    "/reports",
)


def _serve(url: str, workdir: Path) -> tuple[Any, str, str]:
    import uvicorn

    from monitor.app import build
    from monitor.config import Settings, load_config
    from monitor.console.app import create_app
    from monitor.console.security import new_token
    from monitor.core.passwords import hash_password
    from monitor.listening import bind_port
    from monitor.store import console_users
    from monitor.store.db import session

    context = build(load_config(workdir / "report.yaml"), Settings.from_env({}), database=url)
    raw, now = new_token(), context.clock.now()
    with session(context.engine) as s:
        console_users.put_user(
            s, name="bench", role="operator", password_hash=hash_password("bench password 1"), now=now
        )
        console_users.open_session(
            s, raw=raw, user_name="bench", csrf=new_token(), now=now, expires_at=now + timedelta(hours=8)
        )
    sock = bind_port("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(context), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}", raw


def bench_console(backend: str, n_loans: int, workdir: Path) -> dict[str, Any]:
    import httpx

    from tests.bench import _seed_history, database, write_loans

    csv_path = workdir / f"console-loans-{n_loans}.csv"
    write_loans(csv_path, n_loans, datetime.now(UTC))
    with database(backend, workdir) as url:
        from tests.bench import measured

        measured(["--database", url, "db", "upgrade"], workdir)
        _seed_history(url, csv_path, n_loans // 2, workdir)  # reservations and an audit chain of n/2 entries
        server, base, raw = _serve(url, workdir)
        first = csv_path.read_text(encoding="utf-8").splitlines()[11].split(",")  # a stale loan (every 10th)
        pages: dict[str, Any] = {}
        with httpx.Client(base_url=base, cookies={"monitor_session": raw}, timeout=60) as client:
            for path in PAGES:
                target = (
                    path.replace("IDSTART", first[0][:-2])  # a prefix ten loans share
                    .replace("ORDERSTART", first[1][:-2])
                    .replace("TODAY", datetime.now(UTC).date().isoformat())
                    .replace("LOAN", first[0])
                    .replace("ORDER", first[1])
                )
                times = []
                for _ in range(REPEATS + 1):
                    start = time.perf_counter()
                    answer = client.get(target)
                    times.append((time.perf_counter() - start) * 1000)
                    assert answer.status_code in (200, 303), (target, answer.status_code)
                cold, warm = times[0], sorted(times[1:])
                pages[path] = {
                    "cold_ms": round(cold, 1),
                    "p50_ms": round(statistics.median(warm), 1),
                    "p95_ms": round(warm[int(0.95 * (len(warm) - 1))], 1),
                    "max_ms": round(warm[-1], 1),
                }
        server.should_exit = True
    worst = max(p["p95_ms"] for p in pages.values())
    return {"backend": backend, "loans": n_loans, "repeats": REPEATS, "pages": pages, "worst_p95_ms": worst}


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in rows:
        lines.append(
            f"console, {row['backend']}, {row['loans']:,} loans (ms): cold / p50 / p95 / max of {row['repeats']}"
        )
        for path, p in row["pages"].items():
            lines.append(f"  {path:<28} {p['cold_ms']:>8} {p['p50_ms']:>8} {p['p95_ms']:>8} {p['max_ms']:>8}")
        lines.append(f"  worst p95: {row['worst_p95_ms']} ms (target 200 ms)")
    return lines


def main() -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="monitor-bench-console-") as tmp:
        rows = [bench_console(b, args.loans, Path(tmp)) for b in args.backends.split(",") if b]
    print(json.dumps(rows, indent=2))
    print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
