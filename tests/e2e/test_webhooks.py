"""The webhook receiver, driven by a sender built from Truv's documented signature scheme."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import Sandbox
from monitor.store.db import session, upgrade
from monitor.store.tables import Connection, Loan, Reservation, WebhookEvent
from monitor.webhooks.receiver import create_app
from tests.helpers import config, import_csv, seed_loans, services, write_csv

SECRET = "sandbox-webhook-secret"
METRICS_TOKEN = "metrics-token-for-tests"
METRICS = {"Authorization": f"Bearer {METRICS_TOKEN}"}  # /metrics and /healthz?detail on a webhook port


def truv_sign(body: bytes, secret: str = SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event(event_type: str, updated_at, **fields) -> dict:
    return {
        "webhook_id": uuid.uuid4().hex,
        "event_type": event_type,
        "event_created_at": updated_at.isoformat(),
        "updated_at": updated_at.isoformat(),
        "user_id": "u",
        "template_id": None,
        **fields,
    }


def post(client: TestClient, payload: dict | bytes, *, sign: str | None = "auto"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if sign == "auto":
        headers["X-WEBHOOK-SIGN"] = truv_sign(body)
    elif sign is not None:
        headers["X-WEBHOOK-SIGN"] = sign
    return client.post("/webhooks/truv", content=body, headers=headers)


@pytest.fixture
def world(db_url, clock, tmp_path):
    """A pass has submitted one refresh for loan W (connection ok) and one for B (will fail login)."""
    sandbox = Sandbox(seed=2, clock=clock, completion_delay=5.0)
    svc = services(db_url, clock, sandbox, config(concurrency=1))
    rows = seed_loans(
        sandbox, [{"loan_id": "W"}, {"loan_id": "B", "employers": [("login_error", None)]}], tmp_path, clock
    )
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))
    summary = JobPass(svc, svc.config.job("nightly")).run()
    assert summary.submitted == 2
    receiver = services(db_url, clock, None, config())
    with TestClient(create_app(receiver, secret=SECRET, metrics_token=METRICS_TOKEN), headers=METRICS) as client:
        yield svc, sandbox, client


def reservation(svc, loan_id):
    with session(svc.engine) as s:
        return s.execute(select(Reservation).where(Reservation.loan_id == loan_id)).scalars().one()


def suborder_of(sandbox, order_id):
    order = sandbox.order(order_id)
    return order["employers"][0]


def test_valid_signature_is_accepted_and_bad_ones_rejected_with_nothing_stored(world, clock):
    svc, _, client = world
    payload = event("order-created", clock.now(), order_id="x", status="pending")
    assert post(client, payload, sign=None).status_code == 401
    assert post(client, payload, sign="v1=" + "0" * 64).status_code == 401
    assert post(client, payload, sign=truv_sign(json.dumps(payload).encode(), "sandbox-other")).status_code == 401
    with session(svc.engine) as s:
        assert s.execute(select(WebhookEvent)).scalars().all() == []
    ok = post(client, payload)
    assert ok.status_code == 200 and ok.json()["status"] == "ignored"


def test_oversized_and_non_json_bodies(world):
    _, _, client = world
    assert post(client, b"x" * (300 * 1024)).status_code == 413
    assert post(client, b"not json").status_code == 400
    assert post(client, b'["a list"]').status_code == 400


def test_completion_by_webhook_settles_without_a_poll_and_replays_apply_once(world, clock):
    svc, sandbox, client = world
    res = reservation(svc, "W")
    sub = suborder_of(sandbox, res.refresh_order_id)
    clock.advance(10)
    done = event(
        "order-status-updated",
        clock.now(),
        order_id=res.refresh_order_id,
        employer_id=sub["id"],
        link_id=sub["link_id"],
        product="income",
        status="completed",
    )
    first = post(client, done)
    assert first.json()["status"] == "applied"
    again = post(client, done)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    settled = reservation(svc, "W")
    assert settled.state == "completed" and settled.outcome == "completed"
    with session(svc.engine) as s:
        row = s.execute(select(WebhookEvent)).scalars().one()
    assert row.deliveries == 2 and row.state == "applied"
    polls_before = svc.client.stats.by_endpoint.get("get_order_poll", 0)
    JobPass(svc, svc.config.job("nightly")).run()
    assert svc.client.stats.by_endpoint.get("get_order_poll", 0) == polls_before + 1  # only B is still polled


def test_refresh_failure_by_webhook_marks_reauth(world, clock):
    svc, sandbox, client = world
    res = reservation(svc, "B")
    sub = suborder_of(sandbox, res.refresh_order_id)
    clock.advance(10)
    failed = event(
        "order-refresh-failed",
        clock.now(),
        order_id=res.refresh_order_id,
        employer_id=sub["id"],
        link_id=sub["link_id"],
        product="income",
        status="login_error",
    )
    assert post(client, failed).json()["status"] == "applied"
    with session(svc.engine) as s:
        conn = s.execute(select(Connection).where(Connection.link_id == sub["link_id"])).scalars().one()
    assert conn.state == "needs_reauth" and conn.reason == "login_error"
    assert reservation(svc, "B").state == "failed"


def test_an_employer_in_error_is_left_to_the_poll_which_reads_its_link(world, clock):
    """The receiver never calls Truv: an `error` says nothing about why, so the refresh stays accepted and
    the next pass's poll judges it by the link's last task status, however the receiver was started."""
    svc, sandbox, client = world
    res = reservation(svc, "B")
    sub = suborder_of(sandbox, res.refresh_order_id)
    clock.advance(10)
    failed = event(
        "order-refresh-failed",
        clock.now(),
        order_id=res.refresh_order_id,
        employer_id=sub["id"],
        link_id=sub["link_id"],
        product="income",
        status="error",
    )
    assert post(client, failed).json()["status"] == "applied"
    assert reservation(svc, "B").state == "accepted"
    links_before = svc.client.stats.by_endpoint.get("get_link", 0)
    JobPass(svc, svc.config.job("nightly")).run()
    assert svc.client.stats.by_endpoint.get("get_link", 0) == links_before + 1
    with session(svc.engine) as s:
        conn = s.execute(select(Connection).where(Connection.link_id == sub["link_id"])).scalars().one()
    assert conn.state == "needs_reauth" and conn.reason == "login_error"
    assert reservation(svc, "B").state == "failed"


def test_reordered_link_events_end_in_the_newest_state(world, clock):
    svc, sandbox, client = world
    res = reservation(svc, "B")
    link_id = suborder_of(sandbox, res.refresh_order_id)["link_id"]
    t1, t2 = clock.now() + timedelta(seconds=10), clock.now() + timedelta(seconds=20)
    connected = event("link-connected", t2, link_id=link_id, product="income")
    disconnected = event("link-disconnected", t1, link_id=link_id, product="income")
    assert post(client, disconnected).json()["status"] == "applied"
    assert post(client, connected).json()["status"] == "applied"
    # a replayed older disconnect (new delivery id) must not undo the reconnect
    late = {**disconnected, "webhook_id": uuid.uuid4().hex}
    assert post(client, late).json()["status"] == "stale"
    with session(svc.engine) as s:
        conn = s.execute(select(Connection).where(Connection.link_id == link_id)).scalars().one()
    assert conn.state == "ok"


def link_event(event_type: str, created_at, **fields) -> dict:
    """A link event as Truv documents it: `event_created_at`, and no `updated_at` (truv-api.md section 4)."""
    payload = event(event_type, created_at, **fields)
    del payload["updated_at"]
    return payload


def test_documented_link_events_are_ordered_by_event_created_at(world, clock):
    svc, sandbox, client = world
    res = reservation(svc, "B")
    link_id = suborder_of(sandbox, res.refresh_order_id)["link_id"]
    t1, t2 = clock.now() + timedelta(seconds=10), clock.now() + timedelta(seconds=20)
    disconnected = link_event("link-disconnected", t1, link_id=link_id, product="income")
    connected = link_event("link-connected", t2, link_id=link_id, product="income")
    # delivered late: the reconnect first, then the older disconnect
    assert post(client, connected).json()["status"] == "applied"
    assert post(client, disconnected).json()["status"] == "stale"
    with session(svc.engine) as s:
        conn = s.execute(select(Connection).where(Connection.link_id == link_id)).scalars().one()
    assert conn.state == "ok"


def guide_example(order_id: str, at) -> dict:
    """The data-refresh guide's `order-status-updated` example, whole: it names no employer."""
    return {
        "webhook_id": uuid.uuid4().hex,
        "event_type": "order-status-updated",
        "event_created_at": at.isoformat(),
        "order_id": order_id,
        "status": "completed",
        "updated_at": at.isoformat(),
    }


def test_an_order_event_without_employer_id_is_read_once_not_ignored(world, clock):
    svc, _, client = world
    res = reservation(svc, "W")
    clock.advance(10)
    assert post(client, guide_example(res.refresh_order_id, clock.now())).json()["status"] == "recorded"
    polls = svc.client.stats.by_endpoint.get("get_order_poll", 0)
    JobPass(svc, svc.config.job("nightly")).run()
    assert svc.client.stats.by_endpoint.get("get_order_poll", 0) > polls
    assert reservation(svc, "W").state == "completed"
    # about a loan's original order: its order is read again by the loan's next pass
    with session(svc.engine) as s:
        loan = s.get(Loan, "W")
        original, read_before = loan.order_id, loan.details_fetched_at
    assert read_before is not None
    assert post(client, guide_example(original, clock.now())).json()["status"] == "applied"
    with session(svc.engine) as s:
        assert s.get(Loan, "W").details_fetched_at is None
    assert post(client, guide_example("not-ours", clock.now())).json()["status"] == "unmatched"


def test_unknown_types_and_untracked_orders_are_kept_and_counted(world, clock):
    _, _, client = world
    post(client, event("brand-new-event", clock.now()))
    post(client, event("order-status-updated", clock.now(), order_id="not-ours", employer_id="e", status="completed"))
    health = client.get("/healthz?detail").json()
    assert health["ok"] and health["by_state"]["ignored"] == 1 and health["by_state"]["unmatched"] == 1


def test_the_real_loop_over_http_with_duplicates_and_reordering(tmp_path):
    """sandbox (HTTP, pump) -> `monitor webhooks serve` -> database <- `monitor run`: outcomes without polling."""
    import time

    from monitor.clock import SystemClock
    from monitor.sandbox import EmployerSpec
    from monitor.store.db import make_engine
    from tests.e2e.test_webhook_kill import free_port, start_receiver
    from tests.live import cli_env, monitor_ok, served

    db_url = f"sqlite:///{tmp_path / 'loop.db'}"
    upgrade(make_engine(db_url))
    port = free_port()
    receiver = start_receiver(db_url, port, tmp_path)  # signs with tests.e2e.test_webhook_kill.SECRET
    from tests.e2e.test_webhook_kill import SECRET as KILL_SECRET

    sandbox = Sandbox(
        seed=4,
        clock=SystemClock(),
        completion_delay=0.3,
        webhook_secret=KILL_SECRET,
        webhook_duplicates=0.5,
        webhook_reorder=True,
    )
    now = SystemClock().now()
    rows = ["loan_id,order_id,data_as_of"]
    for i, scenario in enumerate(["ok", "ok", "ok", "login_error", "unavailable"]):
        order = sandbox.add_order(
            order_number=f"H{i}", employers=[EmployerSpec(scenario=scenario)], created_at=now - timedelta(days=90)
        )
        rows.append(f"H{i},{order['id']},{(now - timedelta(days=40)).isoformat()}")
    (tmp_path / "loans.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "jobs.yaml").write_text(
        "policies:\n  - {name: p, match: {}, product: income, max_age: 30d}\n"
        "jobs:\n  - {name: nightly, schedule: '0 2 * * *', policies: [p]}\n"
    )
    try:
        with served(sandbox, webhook_url=f"http://127.0.0.1:{port}/webhooks/truv") as url:
            env = cli_env(TRUV_BASE_URL=url, TRUV_CLIENT_ID="c", TRUV_SECRET=KILL_SECRET, MONITOR_DATABASE_URL=db_url)
            monitor_ok(["loans", "import", "loans.csv"], cwd=tmp_path, env=env)
            summary = json.loads(monitor_ok(["run", "--json"], cwd=tmp_path, env=env))
            assert summary["submitted"] == 5
            engine = make_engine(db_url)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # waiting for deliveries, not for a time rule
                with session(engine) as s:
                    states = [r.state for r in s.execute(select(Reservation)).scalars()]
                if "accepted" not in states:
                    break
                time.sleep(0.1)
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    assert sorted(states) == ["completed", "completed", "completed", "failed", "failed"]
    with session(engine) as s:
        events = s.execute(select(WebhookEvent)).scalars().all()
        reauth = s.execute(select(Connection).where(Connection.state == "needs_reauth")).scalars().all()
    assert sum(e.deliveries for e in events) > len(events)  # duplicates arrived and were applied once
    assert len(reauth) == 1 and reauth[0].reason == "login_error"
    # outcomes came by webhook: the pass polled nothing
    assert summary["requests_by_endpoint"].get("get_order_poll", 0) == 0


def test_an_event_that_outruns_our_record_of_the_order_is_applied_once_we_have_it(world, clock):
    """A fast refresh can finish, and Truv can say so, before our POST's answer is written down."""
    from monitor.store import orders
    from monitor.store.tables import OrderSuborder
    from monitor.store.webhook_events import reapply_unmatched

    svc, sandbox, client = world
    res = reservation(svc, "W")
    with session(svc.engine) as s:  # as if the POST's answer had not been recorded yet
        s.execute(OrderSuborder.__table__.delete().where(OrderSuborder.__table__.c.order_id == res.refresh_order_id))
    clock.advance(10)
    sub = suborder_of(sandbox, res.refresh_order_id)
    early = event(
        "order-status-updated",
        clock.now(),
        order_id=res.refresh_order_id,
        employer_id=sub["id"],
        link_id=sub["link_id"],
        product="income",
        status="completed",
    )
    assert post(client, early).json()["status"] == "unmatched"
    with session(svc.engine) as s:
        orders.save_suborders(s, _pending(sandbox, res))
    assert reapply_unmatched(svc, res.refresh_order_id) == 1
    assert reservation(svc, "W").state == "completed"


def _pending(sandbox, res):
    """The refresh order as the POST answered it: its employer still pending."""
    from monitor.truv.wire import parse_order

    body = sandbox.order(res.refresh_order_id)
    body["employers"] = [{**e, "status": "pending"} for e in body["employers"]]
    return parse_order(body)
