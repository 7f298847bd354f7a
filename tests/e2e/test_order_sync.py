"""A new book learned by the page (issue 26 point 1): Truv's order list, not one read per loan.

300 loans imported without `data_as_of`: 180 whose orders completed 40 days ago (stale under a 30-day
policy), 120 completed 10 days ago. The first night's pass walks the list (3 pages of 100), learns every
data date from the orders' `completed_at`, and refreshes exactly the 180 stale loans, with no single
order read. A later sync asks only for what changed since the first walk began.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import func, select

from monitor.config import parse_config
from monitor.jobs.order_sync import OrderSync
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
N_STALE, N_FRESH, PAGE = 180, 120, 100


def _book(db_url, clock, tmp_path):  # type: ignore[no-untyped-def]
    sandbox = Sandbox(seed=26, clock=clock, completion_delay=1.0, requests_per_minute=10_000_000)
    now = clock.now()
    stale = [sandbox.add_order(created_at=now - timedelta(days=40)) for _ in range(N_STALE)]
    fresh = [sandbox.add_order(created_at=now - timedelta(days=10)) for _ in range(N_FRESH)]
    rows = [{"loan_id": f"S{i:04d}", "order_id": o["id"]} for i, o in enumerate(stale)]
    rows += [{"loan_id": f"F{i:04d}", "order_id": o["id"]} for i, o in enumerate(fresh)]
    svc = services(db_url, clock, sandbox, parse_config(CONFIG))
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))  # no data_as_of: Truv tells
    return sandbox, svc, stale, fresh


def _calls(sandbox: Sandbox, since: int = 0) -> tuple[int, int]:
    """(list pages, single order GETs) the sandbox answered after journal entry `since`."""
    entries = sandbox.journal()[since:]
    pages = sum(1 for e in entries if e["method"] == "GET" and e["path"] == "/v1/orders/")
    singles = sum(
        1
        for e in entries
        if e["method"] == "GET" and e["path"].startswith("/v1/orders/") and e["path"] != "/v1/orders/"
    )
    return pages, singles


def test_first_night_learns_every_date_by_the_page_then_refreshes_exactly_the_stale(db_url, clock, tmp_path):
    sandbox, svc, stale, _ = _book(db_url, clock, tmp_path)
    now = clock.now()

    summary = JobPass(svc, svc.config.job("nightly"), wait_seconds=0).run()

    assert summary.status == "finished"
    assert summary.loans_synced == N_STALE + N_FRESH
    assert summary.submitted == N_STALE
    assert {e["parent_order_id"] for e in sandbox.refreshes()} == {o["id"] for o in stale}
    pages, singles = _calls(sandbox)
    assert pages == math.ceil((N_STALE + N_FRESH) / PAGE)
    assert singles == 0  # no loan's order was read one by one before its refresh
    assert summary.requests_by_endpoint.get("get_order_details", 0) == 0
    with session(svc.engine) as s:
        f0, s0 = s.get(Loan, "F0000"), s.get(Loan, "S0000")
        unread = s.execute(select(func.count()).select_from(Loan).where(Loan.details_fetched_at.is_(None))).scalar_one()
    assert unread == 0
    assert f0 is not None and f0.data_as_of == now - timedelta(days=10)  # the order's completed_at
    assert s0 is not None and s0.original_order_id is None and s0.gse_window_start == now - timedelta(days=40)


def test_a_second_sync_reads_only_the_orders_that_changed(db_url, clock, tmp_path):
    sandbox, svc, stale, fresh = _book(db_url, clock, tmp_path)
    start = clock.now()

    first = OrderSync(svc).run()
    assert first.complete and first.updated_since is None
    assert first.pages == math.ceil((N_STALE + N_FRESH) / PAGE) and first.loans_learned == N_STALE + N_FRESH
    assert first.requests_by_endpoint == {"list_orders": first.pages}

    # Two days on: the lender refreshed 7 loans from its dashboard (7 originals touched, 7 new refresh
    # orders, completed a second later), and reminded 3 borrowers (their orders' updated_at moved).
    clock.advance(2 * 86400)
    refreshed = stale[:7]
    for order in refreshed:
        assert (
            sandbox.handle(
                "POST",
                f"/v1/orders/{order['id']}/",
                {
                    "X-Access-Client-Id": "lender",
                    "X-Access-Secret": "sandbox-dashboard",
                    "Content-Type": "application/json",
                },
                b'{"products": ["income"]}',
            ).status
            == 200
        )
    for order in fresh[:3]:
        sandbox.remind(order["id"])
    clock.advance(60)
    mark = len(sandbox.journal())

    second = OrderSync(svc).run()

    assert second.complete and second.updated_since == start - timedelta(hours=1)
    assert not second.filter_ignored
    assert second.orders_seen == 7 + 7 + 3  # only what changed since the first walk began
    assert second.loans_learned == 7 + 3 and second.loans_read_singly == 0
    assert _calls(sandbox, mark) == (1, 0)
    with session(svc.engine) as s:
        learned = s.get(Loan, "S0000")
        untouched = s.get(Loan, "S0100")
    truv_says = sandbox.data_as_of(refreshed[0]["id"])
    assert truv_says is not None and truv_says > (start + timedelta(days=2)).isoformat()
    assert learned is not None and learned.data_as_of is not None
    assert learned.data_as_of.isoformat().replace("+00:00", "Z") == truv_says  # the refresh's completed_at
    assert learned.base_order_id != learned.order_id  # the newest completed refresh: where data is read
    assert untouched is not None and untouched.data_as_of == start - timedelta(days=40)


def test_a_filter_truv_ignores_costs_a_whole_walk_never_a_missed_order(db_url, clock, tmp_path, monkeypatch):
    sandbox, svc, stale, _ = _book(db_url, clock, tmp_path)
    OrderSync(svc).run()
    clock.advance(86400)
    sandbox.remind(stale[0]["id"])
    # As if Truv's list took no such filter: the name we send is not one it knows, so it lists everything.
    monkeypatch.setattr("monitor.truv.orders_page.UPDATED_SINCE_PARAM", "not_a_truv_filter")

    again = OrderSync(svc).run()

    assert again.complete and again.filter_ignored
    assert again.orders_seen == N_STALE + N_FRESH
    assert again.loans_learned == N_STALE + N_FRESH and again.loans_read_singly == 0


def _dashboard_refresh(sandbox: Sandbox, order_id: str) -> str:
    answer = sandbox.handle(
        "POST",
        f"/v1/orders/{order_id}/",
        {"X-Access-Client-Id": "lender", "X-Access-Secret": "sandbox-dashboard", "Content-Type": "application/json"},
        b'{"products": ["income"]}',
    )
    assert answer.status == 200
    return str(answer.json()["id"])


def test_where_the_list_cannot_serve_the_loan_is_read_one_by_one(db_url, clock, tmp_path):
    sandbox, svc, stale, _ = _book(db_url, clock, tmp_path)
    # A loan imported with a refresh order's id: its original (the POST target) must be read.
    refresh_id = _dashboard_refresh(sandbox, stale[-1]["id"])
    clock.advance(60)
    import_csv(svc, write_csv(tmp_path / "more.csv", [{"loan_id": "R0001", "order_id": refresh_id}]))

    first = OrderSync(svc).run()

    assert first.loans_read_singly == 1 and first.loans_learned == N_STALE + N_FRESH
    with session(svc.engine) as s:
        by_refresh = s.get(Loan, "R0001")
    assert by_refresh is not None and by_refresh.original_order_id == stale[-1]["id"]

    # A refresh listed while it runs (2 h), then completed: a later sync lists it, not its original.
    clock.advance(3 * 3600)
    sandbox.completion_delay = 2 * 3600
    running = _dashboard_refresh(sandbox, stale[0]["id"])
    during = OrderSync(svc).run()
    assert during.loans_read_singly == 0
    clock.advance(90 * 60)
    OrderSync(svc).run()  # the overlap lists the touched original once more
    clock.advance(90 * 60)
    after = OrderSync(svc).run()
    assert after.orders_seen == 1  # the refresh order, whose completion moved its updated_at
    assert after.loans_read_singly == 1 and after.loans_learned == 0
    with session(svc.engine) as s:
        loan = s.get(Loan, "S0000")
    assert loan is not None and loan.base_order_id == running


def test_a_few_new_loans_on_a_learned_book_are_read_one_by_one(db_url, clock, tmp_path):
    sandbox, svc, _, _ = _book(db_url, clock, tmp_path)
    assert JobPass(svc, svc.config.job("nightly"), wait_seconds=0).run().loans_synced == N_STALE + N_FRESH
    clock.advance(86400)
    new = [sandbox.add_order(created_at=clock.now() - timedelta(days=45)) for _ in range(5)]
    import_csv(
        svc, write_csv(tmp_path / "new.csv", [{"loan_id": f"N{i}", "order_id": o["id"]} for i, o in enumerate(new)])
    )
    mark = len(sandbox.journal())

    later = JobPass(svc, svc.config.job("nightly"), wait_seconds=0).run()

    assert later.loans_synced == 0 and later.submitted == 5
    assert later.requests_by_endpoint.get("list_orders", 0) == 0
    assert later.requests_by_endpoint["get_order_details"] == 5
    assert _calls(sandbox, mark)[0] == 0


def test_a_filter_truv_refuses_is_dropped_for_the_whole_list(db_url, clock, tmp_path, monkeypatch):
    sandbox, svc, _, _ = _book(db_url, clock, tmp_path)
    OrderSync(svc).run()
    clock.advance(86400)
    # As if Truv refused our filter's format with a 400: the walk asks again without it.
    monkeypatch.setattr(
        "monitor.jobs.order_sync.first_query",
        lambda *, updated_since: (
            (("page_size", "100"),) + ((("updated_at__gte", "last tuesday"),) if updated_since else ())
        ),
    )
    mark = len(sandbox.journal())

    again = OrderSync(svc).run()

    assert again.complete and again.filter_ignored
    assert [e["status"] for e in sandbox.journal()[mark:]] == [400, 200, 200, 200]
    assert again.orders_seen == N_STALE + N_FRESH


def test_one_walk_at_a_time(db_url, clock, tmp_path):
    from monitor.jobs.order_sync import LEASE
    from monitor.store import runs

    sandbox, svc, _, _ = _book(db_url, clock, tmp_path)
    with session(svc.engine) as s:
        assert runs.acquire_lease(s, job=LEASE, holder="other-host:1", run_id="r" * 32, now=clock.now()) is None

    busy = OrderSync(svc).run()

    assert busy.busy_with == "other-host:1" and not busy.complete and sandbox.journal() == []
    clock.advance(11 * 60)  # the other walk stopped renewing: its lease lapsed
    assert OrderSync(svc).run().complete
