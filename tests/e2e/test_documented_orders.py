"""A book of orders in Truv's documented shape, imported without `data_as_of` (issue 21, Done means).

900 orders completed 60 days ago, their invitations expired (`is_expired: true`) and `updated_at` moved
yesterday by a reminder; 100 completed 5 days ago. The first pass refreshes exactly the 900 stale ones,
taking each date from `completed_at`; a second pass refreshes none of them again.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from monitor.config import parse_config
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import Sandbox
from monitor.store.db import session
from monitor.store.tables import Loan
from tests.helpers import import_csv, services, write_csv

CONFIG = """\
truv: {requests_per_minute: 100000, concurrency: 4}
policies:
  - {name: income-30d, match: {}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d], max_refreshes: 5000}
"""


def test_a_thousand_documented_orders_the_stale_900_refreshed_once(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=61, clock=clock, completion_delay=1.0, requests_per_minute=10_000_000)
    now = clock.now()
    stale = [sandbox.add_order(created_at=now - timedelta(days=60)) for _ in range(900)]
    fresh = [sandbox.add_order(created_at=now - timedelta(days=5)) for _ in range(100)]
    clock.set(now - timedelta(days=1))
    for order in stale:
        sandbox.remind(order["id"])
    clock.set(now)
    shown = sandbox.order(stale[0]["id"])
    assert shown["is_expired"] is True and shown["completed_at"] < shown["updated_at"]
    rows = [{"loan_id": f"S{i:04d}", "order_id": o["id"]} for i, o in enumerate(stale)]
    rows += [{"loan_id": f"F{i:04d}", "order_id": o["id"]} for i, o in enumerate(fresh)]
    svc = services(db_url, clock, sandbox, parse_config(CONFIG))
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))  # no data_as_of: Truv tells

    first = JobPass(svc, svc.config.job("nightly"), wait_seconds=0).run()
    assert first.status == "finished" and first.submitted == 900
    assert {e["parent_order_id"] for e in sandbox.refreshes()} == {o["id"] for o in stale}
    with session(svc.engine) as s:
        aside = s.execute(select(func.count()).select_from(Loan).where(Loan.hold.is_not(None))).scalar_one()
        f0 = s.get(Loan, "F0000")
    assert aside == 0
    assert f0.data_as_of == now - timedelta(days=5)  # the order's completed_at, not its updated_at
    assert f0.gse_window_start == now - timedelta(days=5)

    clock.advance(3600)
    second = JobPass(svc, svc.config.job("nightly"), wait_seconds=0).run()
    assert second.submitted == 0
    assert len(sandbox.refreshes()) == 900
