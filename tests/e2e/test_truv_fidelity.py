"""The pass as Truv documents refreshes (truv-api.md sections 2, 3, 9, 10; DESIGN.md rules 6 and 10 to 13).

Written from Truv's documents and the lender's side: each test drives whole passes against the
sandbox and reads the sandbox's journal (what Truv would have seen), not our own tables alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from monitor.config import parse_config
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.store.db import session
from monitor.store.tables import Loan, Reservation, ReservationToken
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
    return JobPass(svc, svc.config.job("nightly"), wait_seconds=wait).run()


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
    # Truv's rate limit is not what this test is about: the in-process sandbox runs on the test's clock.
    sandbox = Sandbox(seed=12, clock=clock, completion_delay=1.0, requests_per_minute=100_000)
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


# -- the end of an order's or a connection's life (truv-api.md section 10) ----------------------

WEBHOOK_SECRET = "sandbox-fidelity-hooks"


def deliver(svc, sandbox: Sandbox) -> dict[str, int]:
    """Post the sandbox's due webhooks, signed, to the real receiver app."""
    from starlette.testclient import TestClient

    from monitor.webhooks.receiver import create_app

    states: dict[str, int] = {}
    with TestClient(create_app(svc, secret=WEBHOOK_SECRET)) as client:
        for hook in sandbox.due_webhooks():
            answer = client.post("/webhooks/truv", content=hook.body, headers=hook.headers)
            assert answer.status_code == 200, answer.text
            key = f"{hook.event_type}:{answer.json().get('status')}"
            states[key] = states.get(key, 0) + 1
    return states


def ended_world(db_url, clock, tmp_path, **order_kwargs):
    sandbox = Sandbox(seed=14, clock=clock, completion_delay=1.0, webhook_secret=WEBHOOK_SECRET)
    order = sandbox.add_order(
        employers=[EmployerSpec(link_id="link-end")], created_at=clock.now() - timedelta(days=45), **order_kwargs
    )
    other = sandbox.add_order(created_at=clock.now() - timedelta(days=45))
    svc = services(db_url, clock, sandbox, parse_config(ONE_POLICY))
    import_csv(svc, write_csv(tmp_path / "loans.csv", loan_rows([("END", order["id"]), ("OTHER", other["id"])])))
    return sandbox, svc, order


def posts_for(sandbox: Sandbox, order_id: str) -> int:
    return len([e for e in sandbox.journal() if e.get("method") == "POST" and e.get("parent_order_id") == order_id])


def exceptions_and_handoffs(svc) -> tuple[list[dict], list[str]]:
    import json

    from monitor.reports.compliance import build
    from monitor.store.tables import Outbox

    now = svc.clock.now()
    report = build(svc, start=(now - timedelta(days=60)).date(), end=now.date(), now=now)
    with session(svc.engine) as s:
        kinds = [json.loads(o.payload)["type"] for o in s.execute(select(Outbox)).scalars()]
    return report["exceptions"]["set_aside"], kinds


def test_order_finalized_ends_refreshing_of_that_loan(db_url, clock, tmp_path):
    sandbox, svc, order = ended_world(db_url, clock, tmp_path)
    assert run(svc).submitted == 2
    deliver(svc, sandbox)
    sandbox.finalize_order(order["id"])
    assert deliver(svc, sandbox) == {"order-finalized:applied": 1}
    clock.advance(31 * 86400)  # both loans stale again
    summary = run(svc)
    assert summary.submitted == 1 and posts_for(sandbox, order["id"]) == 1  # only OTHER was refreshed
    aside, handoffs = exceptions_and_handoffs(svc)
    assert [(x["loan_id"], x["needs"], x["reason"]) for x in aside] == [("END", "needs_new_order", "order_finalized")]
    assert handoffs.count("loan.needs_new_order") == 1
    # a new order for the loan starts again
    fresh = sandbox.add_order(created_at=clock.now() - timedelta(days=45))
    import_csv(svc, write_csv(tmp_path / "again.csv", loan_rows([("END", fresh["id"]), ("OTHER", "unchanged")])[:1]))
    assert run(svc).submitted == 1 and posts_for(sandbox, fresh["id"]) == 1


def test_an_expired_invitation_does_not_end_the_order(db_url, clock, tmp_path):
    # truv-api.md section 3: `is_expired` is the borrower invitation's expiry; the documented example is a
    # completed, refreshed order with `is_expired: true`. Its connections are still refreshed.
    sandbox, svc, order = ended_world(db_url, clock, tmp_path, expired=True)
    assert sandbox.order(order["id"])["is_expired"] is True
    summary = run(svc)
    assert summary.submitted == 2 and posts_for(sandbox, order["id"]) == 1
    aside, handoffs = exceptions_and_handoffs(svc)
    assert aside == [] and "loan.needs_new_order" not in handoffs


def declined_and_counting(svc, loan_id: str) -> tuple[list[str], int]:
    with session(svc.engine) as s:
        states = [r.state for r in s.execute(select(Reservation).where(Reservation.loan_id == loan_id)).scalars()]
        counting = s.execute(
            select(ReservationToken)
            .join(Reservation, Reservation.id == ReservationToken.reservation_id)
            .where(Reservation.loan_id == loan_id, ReservationToken.counts.is_(True))
        ).all()
    return sorted(states), len(counting)


def test_a_refused_refresh_spends_nothing_backs_off_then_asks_a_person(db_url, clock, tmp_path):
    # Truv refuses the refresh outright (400, no order made); its wording is not documented, so it is not read.
    sandbox, svc, order = ended_world(db_url, clock, tmp_path)
    assert run(svc).submitted == 2
    sandbox.finalize_order(order["id"])  # no webhook delivered: only the refusals tell
    start = clock.now() + timedelta(days=31)
    waits = []
    for day in range(0, 8):
        clock.set(start + timedelta(days=day))
        before = posts_for(sandbox, order["id"])
        run(svc)
        if posts_for(sandbox, order["id"]) > before:
            waits.append(day)
    assert waits == [0, 1, 4]  # refused, then 1 day later, then 3 days later; then a person looks
    states, counting = declined_and_counting(svc, "END")
    assert states == ["completed", "declined", "declined", "declined"]
    assert counting == 1  # only the first, accepted refresh counts against the token
    with session(svc.engine) as s:
        loan = s.get(Loan, "END")
    assert (loan.hold, loan.hold_reason) == ("manual_review", "truv_refused")
    assert "finalized" in (loan.attention or "")  # Truv's last message, for the person who looks
    from monitor.reports.loan_view import loan_show

    shown = loan_show(svc, "END", now=clock.now())["loan"]
    assert (shown["hold_reason"], shown["attention"]) == ("truv_refused", loan.attention)
    aside, _ = exceptions_and_handoffs(svc)
    assert [(x["loan_id"], x["reason"]) for x in aside] == [("END", "truv_refused")]


def test_link_deleted_stops_refreshes_on_that_connection(db_url, clock, tmp_path):
    sandbox, svc, order = ended_world(db_url, clock, tmp_path)
    assert run(svc).submitted == 2
    deliver(svc, sandbox)
    sandbox.delete_link("link-end")
    assert deliver(svc, sandbox) == {"link-deleted:applied": 1}
    clock.advance(31 * 86400)
    summary = run(svc)
    assert summary.submitted == 1 and summary.skipped["needs_new_order"] == 1
    assert posts_for(sandbox, order["id"]) == 1
    aside, handoffs = exceptions_and_handoffs(svc)
    assert [(x["loan_id"], x["needs"]) for x in aside] == [("END", "needs_new_order")]
    assert "link_deleted" in aside[0]["reason"] and "loan.needs_new_order" in handoffs


EMPLOYMENT_30D = """\
truv: {requests_per_minute: 100000, concurrency: 4}
policies:
  - {name: employment-30d, match: {}, product: employment, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [employment-30d], max_refreshes: 5000}
"""


def test_loans_without_data_as_of_are_refreshed_only_when_truv_says_they_are_stale(db_url, clock, tmp_path):
    """1,000 loans imported without data_as_of, 100 older than max_age by Truv's dates (rule 11)."""
    from monitor.sandbox.scenario import generate_portfolio

    sandbox = Sandbox(seed=15, clock=clock, completion_delay=1.0, requests_per_minute=100_000)
    rows = generate_portfolio(sandbox, 1000, seed=15, shared_token_share=0.0, failing_share=0.0, stale_share=0.1)
    truly_stale = set(rows.stale_loan_ids(30, clock.now()))
    assert len(truly_stale) == 100 and all("data_as_of" not in r for r in rows)
    svc = services(db_url, clock, sandbox, parse_config(EMPLOYMENT_30D))
    import_csv(svc, write_csv(tmp_path / "loans.csv", list(rows)))
    summary = run(svc)
    refreshed = {e["parent_order_id"] for e in sandbox.refreshes()}
    stale_orders = {r["order_id"] for r in rows if r["loan_id"] in truly_stale}
    assert refreshed == stale_orders  # 100 POSTs, 0 needless
    # The 900 fresh ones are known fresh from Truv's order list, never selected nor read (issue 26).
    assert summary.submitted == 100 and summary.loans_synced == 1000 and summary.not_stale == 0
    assert summary.requests_by_endpoint.get("get_order_details", 0) == 0
    posts = [e for e in sandbox.journal() if e.get("method") == "POST"]
    assert len(posts) == 100 and summary.throttled == 0  # every POST Truv saw was a needed refresh
    # the next night nothing is read again and nothing is sent: every data date is known now
    clock.advance(86400)
    calls = len(sandbox.journal())
    again = run(svc)
    assert again.submitted == 0 and len(sandbox.journal()) == calls


def test_a_use_counts_from_its_last_send_plus_the_clock_skew_margin(db_url, clock, tmp_path):
    """Rule 12: a 429 re-send moves the counting time forward; Truv's created_at can only move it later."""
    import httpx

    from monitor.app import Services, build_client
    from monitor.sandbox import SandboxTransport
    from monitor.store.db import make_engine, upgrade
    from tests.helpers import SETTINGS

    sandbox = Sandbox(seed=16, clock=clock, completion_delay=1.0)
    order = sandbox.add_order(created_at=clock.now() - timedelta(days=45))
    inner = SandboxTransport(sandbox)
    throttled: list[str] = []

    class ThrottleFirstRefresh(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and not throttled:
                throttled.append(clock.now().isoformat())
                return httpx.Response(429, headers={"Retry-After": "120"}, json={"error": {"code": "throttled"}})
            return inner.handle_request(request)

    cfg = parse_config(ONE_POLICY)
    engine = make_engine(db_url)
    upgrade(engine)
    client = build_client(cfg, SETTINGS, clock, transport=ThrottleFirstRefresh(), client_id="t", secret="sandbox-t")
    svc = Services(config=cfg, engine=engine, clock=clock, client=client)
    import_csv(svc, write_csv(tmp_path / "loans.csv", loan_rows([("C", order["id"])])))
    summary = run(svc, wait=0)
    assert summary.submitted == 1 and summary.throttled == 1
    (entry,) = sandbox.refreshes()
    with session(svc.engine) as s:
        res = s.execute(select(Reservation)).scalars().one()
        counted = s.execute(select(ReservationToken.reserved_at)).scalars().one()
    sent = datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))  # when Truv got the re-sent POST
    assert res.sent_at == sent
    assert (sent - res.reserved_at).total_seconds() >= 120  # the re-send waited out Retry-After
    assert counted == sent + timedelta(minutes=5)  # counts from the last send plus the margin


def test_new_report_ids_reach_the_ledger_the_report_and_the_handoff(db_url, clock, tmp_path):
    """Truv: after a refresh, resubmit the newest report id to DU / LPA (truv-api.md section 8)."""
    import json

    from monitor.reports.compliance import build
    from monitor.reports.ledger_view import ledger_view
    from monitor.store.tables import Outbox

    sandbox = Sandbox(seed=17, clock=clock, completion_delay=1.0)
    order = sandbox.add_order(created_at=clock.now() - timedelta(days=45))
    svc = services(db_url, clock, sandbox, parse_config(ONE_POLICY))
    import_csv(svc, write_csv(tmp_path / "loans.csv", loan_rows([("R", order["id"])])))
    assert run(svc).completed == 1
    (entry,) = sandbox.refreshes()
    fresh_id = sandbox.order(entry["created_order_id"])["voie_report_id"]
    assert fresh_id and fresh_id != order["voie_report_id"]
    view = ledger_view(svc, loan_id="R", limit=10, now=clock.now())
    assert view["reservations"][0]["voie_report_id"] == fresh_id
    now = clock.now()
    report = build(svc, start=now.date(), end=now.date(), now=now)
    assert [row["voie_report_id"] for row in report["loans"]] == [fresh_id]
    with session(svc.engine) as s:
        payloads = [json.loads(o.payload) for o in s.execute(select(Outbox)).scalars()]
    (done,) = [p for p in payloads if p["type"] == "refresh.completed"]
    assert (done["loan_id"], done["voie_report_id"], done["refresh_order_id"]) == (
        "R",
        fresh_id,
        entry["created_order_id"],
    )


def test_a_suborder_left_sent_is_settled_by_its_last_task_status(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=18, clock=clock, completion_delay=1.0)
    ok = sandbox.add_order(
        employers=[EmployerSpec(status_style="sent_with_last_task")], created_at=clock.now() - timedelta(days=45)
    )
    bad = sandbox.add_order(
        employers=[EmployerSpec(status_style="sent_with_last_task", scenario="login_error")],
        created_at=clock.now() - timedelta(days=45),
    )
    svc = services(db_url, clock, sandbox, parse_config(ONE_POLICY))
    import_csv(svc, write_csv(tmp_path / "loans.csv", loan_rows([("OK", ok["id"]), ("BAD", bad["id"])])))
    summary = run(svc)
    assert summary.completed == 1 and summary.needs_reauth == 1 and summary.failed["login_error"] == 1
    with session(svc.engine) as s:
        states = dict(s.execute(select(Reservation.loan_id, Reservation.state)).all())
    assert states == {"OK": "completed", "BAD": "failed"}


def test_report_ids_of_a_refresh_settled_by_webhook_are_read_once_then_handed_off(db_url, clock, tmp_path):
    """No webhook carries the new report ids: the next pass reads the refresh order once for them."""
    import json

    from monitor.store.tables import Outbox, TruvOrder

    sandbox = Sandbox(seed=19, clock=clock, completion_delay=1.0, webhook_secret=WEBHOOK_SECRET)
    order = sandbox.add_order(created_at=clock.now() - timedelta(days=45))
    svc = services(db_url, clock, sandbox, parse_config(ONE_POLICY))
    import_csv(svc, write_csv(tmp_path / "loans.csv", loan_rows([("W", order["id"])])))
    assert run(svc, wait=0).submitted == 1
    clock.advance(5)
    deliver(svc, sandbox)
    (entry,) = sandbox.refreshes()
    refresh_id = entry["created_order_id"]
    with session(svc.engine) as s:
        assert s.get(Reservation, s.execute(select(Reservation.id)).scalar_one()).state == "completed"
        assert s.get(TruvOrder, refresh_id).voie_report_id is None  # the webhook did not say
        assert s.execute(select(Outbox)).scalars().all() == []  # nothing handed off without the ids
    clock.advance(3600)
    run(svc, wait=0)
    reads = [e for e in sandbox.journal() if e["path"] == f"/v1/orders/{refresh_id}/"]
    assert len(reads) == 1
    with session(svc.engine) as s:
        fresh = s.get(TruvOrder, refresh_id).voie_report_id
        payloads = [json.loads(o.payload) for o in s.execute(select(Outbox)).scalars()]
    assert fresh == sandbox.order(refresh_id)["voie_report_id"] and fresh
    assert [(p["type"], p["voie_report_id"]) for p in payloads] == [("refresh.completed", fresh)]
    run(svc, wait=0)  # read once: not again
    assert len([e for e in sandbox.journal() if e["path"] == f"/v1/orders/{refresh_id}/"]) == 1
