"""The pass as Truv documents refreshes (truv-api.md sections 2, 3, 9, 10; DESIGN.md rules 6 and 10 to 13).

Written from Truv's documents and the lender's side: each test drives whole passes against the
sandbox and reads the sandbox's journal (what Truv would have seen), not our own tables alone.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from monitor.config import parse_config
from monitor.jobs.refresh_pass import RefreshPass
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.store.db import session
from monitor.store.tables import Loan, ReservationToken
from monitor.truv.secrets import token_hash
from tests.helpers import import_csv, services, write_csv

TWO_PRODUCTS = """\
truv: {requests_per_minute: 6000, concurrency: 2}
policies:
  - {name: income-30d, match: {}, product: income, max_age: 30d}
  - {name: assets-10d, match: {}, product: assets, max_age: 10d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d, assets-10d], max_refreshes: 100}
"""

ONE_POLICY = """\
truv: {requests_per_minute: 6000, concurrency: 4}
policies:
  - {name: income-30d, match: {}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d], max_refreshes: 1000}
"""


def run(svc, wait: float = 30.0):
    return RefreshPass(svc, svc.config.job("nightly"), wait_seconds=wait).run()


def loan_rows(orders: list[tuple[str, str]], **extra: str) -> list[dict[str, str]]:
    return [{"loan_id": loan_id, "order_id": order_id, **extra} for loan_id, order_id in orders]


def assert_every_post_names_an_original(sandbox: Sandbox) -> None:
    originals = {e["parent_order_id"] for e in sandbox.journal() if e.get("method") == "POST"}
    for order_id in originals:
        assert sandbox.order(order_id)["initial_order"] is None, f"POST to refresh order {order_id}"
    assert sandbox.refresh_of_refresh_refusals == 0


def test_income_and_assets_each_refresh_only_their_own_connections_over_30_days(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=11, clock=clock, completion_delay=5.0)
    order = sandbox.add_order(
        products=("income", "assets"),
        employers=[EmployerSpec(access_token="employer-token")],
        financial_accounts=[EmployerSpec(access_token="bank-token")],
        created_at=clock.now() - timedelta(days=40),
    )
    svc = services(db_url, clock, sandbox, parse_config(TWO_PRODUCTS))
    import_csv(svc, write_csv(tmp_path / "loans.csv", loan_rows([("MIX", order["id"])])))  # no data_as_of
    employer, bank = token_hash("employer-token"), token_hash("bank-token")
    days: dict[str, list[int]] = {"income": [], "assets": []}
    start = clock.now()
    for day in range(31):
        clock.set(start + timedelta(days=day))  # nightly at the same time; a pass's own waits do not add up
        before = len(sandbox.refreshes())
        run(svc)
        for entry in sandbox.refreshes()[before:]:
            days[entry["product"]].append(day)
            # each product touches only its own connection: the other's token is never charged
            assert entry["token_hashes"] == ([employer] if entry["product"] == "income" else [bank])
            assert entry["parent_order_id"] == order["id"]  # always the original order (rule 6)
    # income: stale on day 0 (40 days old), fresh for 30 days after; assets: stale at once, then every 10+ days
    assert days["income"] == [0]
    assert days["assets"] == [1, 12, 23]  # one refresh per loan per pass: assets waits for the next night
    assert_every_post_names_an_original(sandbox)
    with session(svc.engine) as s:
        loan = s.get(Loan, "MIX")
        assert loan.data_as_of_employers < loan.data_as_of_accounts  # each product keeps its own date
        uses = s.execute(select(ReservationToken.token_hash)).scalars().all()
    assert sorted(uses).count(employer) == 1 and sorted(uses).count(bank) == 3


def test_a_403_on_one_order_sets_that_loan_aside_and_the_pass_goes_on(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=12, clock=clock, completion_delay=1.0)
    old = clock.now() - timedelta(days=45)
    rows = []
    # The forbidden loan closes first, so it is the pass's very first Truv call.
    bad = sandbox.add_order(created_at=old, forbidden=True)
    rows.append(
        {"loan_id": "L000", "order_id": bad["id"], "closing_date": (clock.now() + timedelta(days=5)).date().isoformat()}
    )
    for i in range(1, 100):
        o = sandbox.add_order(created_at=old)
        rows.append({"loan_id": f"L{i:03d}", "order_id": o["id"], "closing_date": ""})
    svc = services(db_url, clock, sandbox, parse_config(ONE_POLICY))
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))
    summary = run(svc)
    assert summary.status == "finished" and summary.submitted == 99 and summary.skipped["forbidden"] == 1
    assert len(sandbox.refreshes()) == 99
    with session(svc.engine) as s:
        loan = s.get(Loan, "L000")
    assert (loan.hold, loan.hold_reason) == ("manual_review", "forbidden")
    # The next night it is not tried again (no 403 storm), and the others are fresh.
    clock.advance(86400)
    calls = len(sandbox.journal())
    again = run(svc)
    assert again.status == "finished" and again.submitted == 0
    assert all(e["status"] != 403 for e in sandbox.journal()[calls:])
    assert_every_post_names_an_original(sandbox)


@pytest.mark.parametrize("status", [400, 403, 429])
def test_truvs_refresh_limit_blocks_the_token_for_24h_whatever_its_status(sqlite_url, clock, tmp_path, status):
    """Refreshes made outside monitor count at Truv too: its refusal is believed, never retried."""
    sandbox = Sandbox(seed=13, clock=clock, completion_delay=1.0, refresh_limit_status=status)
    order = sandbox.add_order(
        employers=[EmployerSpec(access_token="busy")], created_at=clock.now() - timedelta(days=45)
    )
    # Three refreshes by another system of the lender's, straight to Truv.
    for _ in range(3):
        answer = sandbox.handle(
            "POST",
            f"/v1/orders/{order['id']}/",
            {"X-Access-Client-Id": "x", "X-Access-Secret": "sandbox-x", "Content-Type": "application/json"},
            b'{"products": ["income"]}',
        )
        assert answer.status == 200
    svc = services(sqlite_url, clock, sandbox, parse_config(ONE_POLICY))
    import_csv(svc, write_csv(tmp_path / "loans.csv", loan_rows([("BUSY", order["id"])])))
    posts = len([e for e in sandbox.journal() if e.get("method") == "POST"])
    summary = run(svc)
    assert summary.status == "finished" and summary.skipped["truv_refresh_limit"] == 1 and summary.throttled == 0
    refused = [e for e in sandbox.journal() if e.get("method") == "POST"][posts:]
    assert len(refused) == 1 and refused[0]["status"] == status  # sent once, not re-sent as a throttle
    clock.advance(12 * 3600)
    assert run(svc).submitted == 0  # the token stays blocked for 24 h
    assert len([e for e in sandbox.journal() if e.get("method") == "POST"]) == posts + 1
