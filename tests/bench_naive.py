"""The benchmark's baseline: what a lender's first nightly cron job against Truv would do.

`python -m tests.bench_naive --loans loans.csv --max-age-days 30` with TRUV_BASE_URL, TRUV_CLIENT_ID
and TRUV_SECRET set. It GETs every order in the file, decides staleness from the employers'
`completed_at`, then POSTs a refresh for each stale order one by one. A 429 is retried after a
doubling sleep; nothing else is honoured: no pacing, no per-token budget, no record of earlier
refreshes. Prints its own counts as JSON; the benchmark trusts the sandbox's counts instead.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

# A cron script's usual retry: sleep, double, cap, try again until answered.
FIRST_SLEEP = 0.5
MAX_SLEEP = 8.0


def call(client: httpx.Client, method: str, path: str, counts: dict[str, int], **kwargs: Any) -> httpx.Response:
    sleep = FIRST_SLEEP
    while True:
        counts["calls"] += 1
        response = client.request(method, path, **kwargs)
        if response.status_code != 429:
            return response
        counts["http_429"] += 1
        time.sleep(sleep)
        sleep = min(sleep * 2, MAX_SLEEP)


def oldest_completed(order: dict[str, Any]) -> datetime | None:
    dates = [e.get("completed_at") for e in order.get("employers") or []]
    if not dates or any(d is None for d in dates):
        return None
    return min(datetime.fromisoformat(str(d).replace("Z", "+00:00")) for d in dates)


def run(base_url: str, loans: Path, *, client_id: str, secret: str, max_age: timedelta) -> dict[str, Any]:
    counts = {"calls": 0, "http_429": 0, "refreshed": 0, "refused": 0, "stale": 0}
    with loans.open(newline="", encoding="utf-8") as handle:
        order_ids = [row["order_id"] for row in csv.DictReader(handle)]
    headers = {"X-Access-Client-Id": client_id, "X-Access-Secret": secret, "Accept": "application/json"}
    cutoff = datetime.now(UTC) - max_age
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        stale = []
        for order_id in order_ids:
            response = call(client, "GET", f"orders/{order_id}/", counts)
            if response.status_code != 200:
                continue
            when = oldest_completed(response.json())
            if when is None or when < cutoff:
                stale.append(order_id)
        counts["stale"] = len(stale)
        for order_id in stale:
            response = call(client, "POST", f"orders/{order_id}/", counts, json={"products": ["income"]})
            counts["refreshed" if response.status_code == 200 else "refused"] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=Path, required=True, help="CSV with an order_id column")
    parser.add_argument("--max-age-days", type=float, default=30.0)
    args = parser.parse_args()
    start = time.perf_counter()
    counts = run(
        os.environ["TRUV_BASE_URL"],
        args.loans,
        client_id=os.environ["TRUV_CLIENT_ID"],
        secret=os.environ["TRUV_SECRET"],
        max_age=timedelta(days=args.max_age_days),
    )
    print(json.dumps({**counts, "seconds": round(time.perf_counter() - start, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
