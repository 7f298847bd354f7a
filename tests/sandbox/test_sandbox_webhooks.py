"""Webhooks the sandbox sends as Truv does: events on the clock, signatures, faults, the pump."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.clock import FixedClock
from monitor.sandbox import EmployerSpec, Sandbox, Webhook, WebhookPump, sign
from monitor.sandbox.app import bound_port, make_server
from monitor.sandbox.scenario import load_scenario_file
from tests.sandbox.conftest import T0, make_client

Refresh = Callable[..., httpx.Response]
COMMON = {"webhook_id", "event_type", "event_created_at", "updated_at", "user_id", "template_id"}
ORDER_EVENT = COMMON | {"order_id", "order_number", "employer_id", "link_id", "product", "data_source", "status"}


def types(webhooks: list[Webhook]) -> list[str]:
    return [w.event_type for w in webhooks]


def refresh_order(sandbox: Sandbox, scenario: str = "ok", **order: Any) -> tuple[dict, dict]:
    root = sandbox.add_order(employers=[EmployerSpec(scenario=scenario)], **order)
    with make_client(sandbox) as client:
        child = client.post(f"orders/{root['id']}/", json={"products": ["income"]}).json()
    return root, child


def test_completion_emits_events_once_the_delay_has_passed(sandbox: Sandbox, clock: FixedClock) -> None:
    root, child = refresh_order(sandbox, order_number="LOAN-1")
    assert sandbox.due_webhooks() == []
    clock.advance(4.9)
    assert sandbox.due_webhooks() == []
    clock.advance(0.1)
    batch = sandbox.due_webhooks()
    assert types(batch) == ["task-status-updated", "order-status-updated", "employment-updated"]
    assert sandbox.due_webhooks() == []
    clock.advance(60)
    assert sandbox.due_webhooks() == []

    task, order, data = (w.event for w in batch)
    employer, link_id = child["employers"][0], root["employers"][0]["link_id"]
    for event in (task, order, data):
        assert set(event) >= COMMON
        assert event["updated_at"] == "2024-06-03T09:00:05+00:00"
        assert event["event_created_at"] == "2024-06-03T09:00:05Z"
        assert (event["user_id"], event["template_id"], event["link_id"]) == (root["user_id"], None, link_id)
        assert (event["product"], event["data_source"]) == ("income", "payroll")
        assert len(event["webhook_id"]) == 32 and int(event["webhook_id"], 16) >= 0
    assert len({e["webhook_id"] for e in (task, order, data)}) == 3
    assert (task["status"], task["tracking_info"]) == ("done", None)
    assert order == {
        **{k: order[k] for k in COMMON},
        "order_id": child["id"],
        "order_number": "LOAN-1",
        "employer_id": employer["id"],
        "link_id": link_id,
        "product": "income",
        "data_source": "payroll",
        "status": "completed",
    }
    assert data["task_id"] == task["task_id"]
    # objects_count of employment-updated: the link's employments (the report's, one here).
    assert len(data["employment_id"]) == 32 and data["objects_count"] == 1
    assert batch[0].headers["Content-Type"] == "application/json"
    assert batch[0].headers["User-Agent"] == "Truv-Webhook-Service/2.0"
    assert json.loads(batch[0].body) == task
    assert b" " not in batch[0].body  # compact JSON


@pytest.mark.parametrize(
    ("scenario", "expected", "status"),
    [
        ("login_error", ["task-status-updated", "order-refresh-failed", "link-disconnected"], "login_error"),
        ("mfa_error", ["task-status-updated", "order-refresh-failed", "link-disconnected"], "mfa_error"),
        ("account_locked", ["task-status-updated", "order-refresh-failed", "link-disconnected"], "account_locked"),
        ("unavailable", ["task-status-updated", "order-refresh-failed"], "unavailable"),
        ("no_data", ["task-status-updated", "order-status-updated"], "no_data"),
    ],
)
def test_failures_and_no_data(
    sandbox: Sandbox, clock: FixedClock, scenario: str, expected: list[str], status: str
) -> None:
    root, child = refresh_order(sandbox, scenario)
    clock.advance(5)
    batch = sandbox.due_webhooks()
    assert types(batch) == expected
    assert batch[0].event["status"] == status
    order = batch[1].event
    assert (order["order_id"], order["employer_id"], order["status"]) == (
        child["id"],
        child["employers"][0]["id"],
        status,
    )
    if "link-disconnected" in expected:
        link = batch[2].event
        # Account Link events carry no updated_at (Truv documents none): ordered by event_created_at.
        assert set(link) == COMMON - {"updated_at"} | {"link_id", "product", "data_source", "tracking_info"}
        assert link["link_id"] == root["employers"][0]["link_id"]


def test_exactly_one_order_refresh_failed_per_failed_refresh_order(sandbox: Sandbox, clock: FixedClock) -> None:
    root = sandbox.add_order(
        employers=[
            EmployerSpec(access_token="tok-a", scenario="login_error"),
            EmployerSpec(access_token="tok-a", scenario="login_error"),
            EmployerSpec(access_token="tok-b", scenario="unavailable"),
            EmployerSpec(access_token="tok-c"),
        ]
    )
    with make_client(sandbox) as client:
        child = client.post(f"orders/{root['id']}/", json={"products": ["income"]}).json()
    clock.advance(5)
    events = [w.event for w in sandbox.due_webhooks()]
    [failed] = [e for e in events if e["event_type"] == "order-refresh-failed"]
    first = child["employers"][0]
    assert (failed["order_id"], failed["status"], failed["employer_id"], failed["link_id"]) == (
        child["id"],
        "login_error",
        first["id"],
        first["link_id"],
    )
    assert set(failed) == ORDER_EVENT
    # The suborder that completed still gets its order-status-updated.
    assert [e["employer_id"] for e in events if e["event_type"] == "order-status-updated"] == [
        child["employers"][3]["id"]
    ]
    assert sorted(e["link_id"] for e in events if e["event_type"] == "link-disconnected") == [first["link_id"]]


def test_one_task_per_link_and_an_event_per_employer(sandbox: Sandbox, clock: FixedClock) -> None:
    root = sandbox.add_order(
        employers=[
            EmployerSpec(access_token="tok-shared"),
            EmployerSpec(access_token="tok-shared"),
            EmployerSpec(scenario="unavailable"),
        ]
    )
    with make_client(sandbox) as client:
        child = client.post(f"orders/{root['id']}/", json={"products": ["employment"]}).json()
    clock.advance(5)
    batch = sandbox.due_webhooks()
    assert types(batch) == [
        "task-status-updated",
        "order-status-updated",
        "order-status-updated",
        "employment-updated",
        "employment-updated",
        "task-status-updated",
        "order-refresh-failed",
    ]
    assert [w.event.get("employer_id") for w in batch if w.event_type.startswith("order-")] == [
        e["id"] for e in child["employers"]
    ]
    assert len({w.event["task_id"] for w in batch if "task_id" in w.event}) == 2


def test_assets_refresh_sends_bank_accounts_updated(sandbox: Sandbox, clock: FixedClock) -> None:
    root = sandbox.add_order(products=("assets",), employers=[], financial_accounts=[EmployerSpec()])
    with make_client(sandbox) as client:
        client.post(f"orders/{root['id']}/", json={"products": ["assets"]})
    clock.advance(5)
    *_, data = sandbox.due_webhooks()
    assert data.event_type == "bank-accounts-updated"
    assert (data.event["data_source"], data.event["product"]) == ("financial_accounts", "assets")
    assert "object_id" in data.event


def test_data_changed_counts_and_stable_employment_id(sandbox: Sandbox, clock: FixedClock) -> None:
    root, _ = refresh_order(sandbox)
    clock.advance(5)
    with make_client(sandbox) as client:
        client.post(f"orders/{root['id']}/", json={"products": ["income"]})
    clock.advance(5)
    updates = [w.event for w in sandbox.due_webhooks() if w.event_type == "employment-updated"]
    assert [u["objects_count"] for u in updates] == [1, 1]
    assert updates[0]["employment_id"] == updates[1]["employment_id"]
    assert updates[0]["task_id"] != updates[1]["task_id"]


def test_signature_over_exact_body(clock: FixedClock) -> None:
    sandbox = Sandbox(seed=1, clock=clock, webhook_secret="sandbox-secret-1")
    refresh_order(sandbox)
    clock.advance(5)
    for webhook in sandbox.due_webhooks():
        expected = hmac.new(b"sandbox-secret-1", webhook.body, hashlib.sha256).hexdigest()
        assert webhook.headers["X-WEBHOOK-SIGN"] == f"v1={expected}"
        assert sign(webhook.body, "sandbox-secret-1") == f"v1={expected}"
        assert sign(webhook.body, "other") != webhook.headers["X-WEBHOOK-SIGN"]
    assert sign(b"{}", "k") == "v1=" + hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()


def test_no_signature_without_secret(sandbox: Sandbox, clock: FixedClock) -> None:
    refresh_order(sandbox)
    clock.advance(5)
    batch = sandbox.due_webhooks()
    assert batch and all("X-WEBHOOK-SIGN" not in w.headers for w in batch)


def test_duplicates_repeat_the_webhook_id_right_after(clock: FixedClock) -> None:
    sandbox = Sandbox(seed=2, clock=clock, webhook_duplicates=1.0)
    refresh_order(sandbox)
    clock.advance(5)
    batch = sandbox.due_webhooks()
    assert len(batch) == 6
    for original, copy in zip(batch[::2], batch[1::2], strict=True):
        assert copy.webhook_id == original.webhook_id
        assert copy.body == original.body
    assert len({w.webhook_id for w in batch}) == 3


def test_duplicates_share(clock: FixedClock) -> None:
    sandbox = Sandbox(seed=4, clock=clock, webhook_duplicates=0.5)
    for _ in range(10):
        refresh_order(sandbox)
    clock.advance(5)
    batch = sandbox.due_webhooks()
    ids = [w.webhook_id for w in batch]
    assert len(set(ids)) == 30
    assert 30 < len(ids) < 60


def test_reorder_changes_arrival_but_not_updated_at(clock: FixedClock) -> None:
    def run(reorder: bool) -> list[Webhook]:
        local = FixedClock(T0)
        sandbox = Sandbox(seed=5, clock=local, webhook_reorder=reorder)
        refresh_order(sandbox)
        local.advance(2)
        refresh_order(sandbox, "login_error")
        local.advance(10)
        return sandbox.due_webhooks()

    plain, shuffled = run(False), run(True)
    assert [w.body for w in plain] != [w.body for w in shuffled]
    assert sorted(w.body for w in plain) == sorted(w.body for w in shuffled)
    # updated_at where the event has one; link events (none documented) by event_created_at.
    updated = {w.webhook_id: w.event.get("updated_at") for w in plain}
    assert sorted({m for m in updated.values() if m}) == ["2024-06-03T09:00:05+00:00", "2024-06-03T09:00:07+00:00"]
    assert [w.event_type for w in plain if updated[w.webhook_id] is None] == ["link-disconnected"]
    assert all(updated[w.webhook_id] == w.event.get("updated_at") for w in shuffled)
    moments = {w.webhook_id: w.event["event_created_at"] for w in plain}
    arrival = [moments[w.webhook_id] for w in shuffled]
    assert arrival != sorted(arrival)  # an older event arrives after a newer one
    # Ordering by the event's moment (then the event order of one change) restores the truth.
    assert [moments[w.webhook_id] for w in plain] == sorted(arrival)


def test_reorder_always_reorders_a_batch_of_two(clock: FixedClock) -> None:
    sandbox = Sandbox(seed=0, clock=clock, webhook_reorder=True)
    root = sandbox.add_order()
    for seconds in range(6):
        sandbox.reconnect_link(root["employers"][0]["link_id"])
        batch = sandbox.due_webhooks()
        assert types(batch) == ["task-status-updated", "link-connected"]
        clock.advance(seconds)


def test_same_seed_same_bodies() -> None:
    def run(seed: int) -> list[bytes]:
        clock = FixedClock(T0)
        sandbox = Sandbox(seed=seed, clock=clock, webhook_secret="s", webhook_duplicates=0.3, webhook_reorder=True)
        refresh_order(sandbox)
        refresh_order(sandbox, "mfa_error")
        clock.advance(3)
        refresh_order(sandbox, "no_data")
        bodies = []
        for _ in range(4):
            clock.advance(2)
            bodies += [w.body + w.headers["X-WEBHOOK-SIGN"].encode() for w in sandbox.due_webhooks()]
        return bodies

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_webhooks_change_no_api_ids() -> None:
    def order_ids(poll: bool) -> list[str]:
        clock = FixedClock(T0)
        sandbox = Sandbox(seed=8, clock=clock)
        ids = []
        for _ in range(3):
            ids += [o["id"] for o in refresh_order(sandbox)]
            clock.advance(5)
            if poll:
                sandbox.due_webhooks()
        return ids

    assert order_ids(True) == order_ids(False)


def test_polling_times_do_not_change_the_stream() -> None:
    def run(polls: list[float]) -> list[bytes]:
        clock = FixedClock(T0)
        sandbox = Sandbox(seed=9, clock=clock)
        refresh_order(sandbox)
        clock.advance(1)
        refresh_order(sandbox, "unavailable")
        bodies = []
        for step in polls:
            clock.advance(step)
            bodies += [w.body for w in sandbox.due_webhooks()]
        return bodies

    assert run([10]) == run([4, 0.5, 0.5, 5])


def test_reconnect_link_emits_link_connected(sandbox: Sandbox, clock: FixedClock) -> None:
    root, _ = refresh_order(sandbox, "login_error")
    link_id = root["employers"][0]["link_id"]
    clock.advance(5)
    sandbox.due_webhooks()
    clock.advance(100)
    sandbox.reconnect_link(link_id)
    batch = sandbox.due_webhooks()
    assert types(batch) == ["link-connected", "task-status-updated"]
    connected, task = (w.event for w in batch)
    assert set(connected) == COMMON - {"updated_at"} | {"link_id", "product", "data_source", "tracking_info"}
    assert (connected["link_id"], connected["product"], connected["user_id"]) == (
        link_id,
        "income",
        root["user_id"],
    )
    assert connected["event_created_at"] == task["event_created_at"] == "2024-06-03T09:01:45Z"
    assert task["updated_at"] == "2024-06-03T09:01:45+00:00"
    assert task["status"] == "done"


def test_scenario_file_webhook_settings(tmp_path: Path) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text(
        "settings:\n  webhook_url: http://127.0.0.1:9/hooks\n  webhook_secret: sandbox-s\n"
        "  webhook_duplicates: 0.2\n  webhook_reorder: true\n"
    )
    loaded = load_scenario_file(path, clock=FixedClock(T0))
    sandbox = loaded.sandbox
    assert loaded.webhook_url == sandbox.webhook_url == "http://127.0.0.1:9/hooks"
    assert (sandbox.webhook_secret, sandbox.webhook_duplicates, sandbox.webhook_reorder) == ("sandbox-s", 0.2, True)
    for text, message in [
        ("webhook_duplicates: 2", "webhook_duplicates: expected a rate"),
        ("webhook_reorder: maybe", "webhook_reorder: expected true or false"),
        ("webhook_url: 127.0.0.1", "webhook_url: expected an http"),
        ("webhook_secret: 12", "webhook_secret: expected a string"),
    ]:
        path.write_text(f"settings:\n  {text}\n")
        with pytest.raises(ValueError, match=f"hooks.yaml: settings.{message}"):
            load_scenario_file(path)


def test_bad_duplicates_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="webhook_duplicates"):
        Sandbox(webhook_duplicates=1.5)


# ---- delivery over real HTTP ------------------------------------------------------------


class Receiver:
    """A Starlette app under uvicorn on 127.0.0.1: answers 500 to the first POST, then 200."""

    def __init__(self, fail_first: int = 1) -> None:
        self.fail_first = fail_first
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self.accepted: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.requests.append((body, dict(request.headers)))
            if len(self.requests) <= self.fail_first:
                return Response(status_code=500)
            self.accepted.append(json.loads(body))
        return Response(status_code=200)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    import uvicorn

    hooks = Receiver()
    app = Starlette(routes=[Route("/hooks", hooks.endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "receiver startup")
    yield hooks, f"http://127.0.0.1:{bound_port(server)}/hooks"
    server.should_exit = True
    thread.join(timeout=5)


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # polling a flag set by another thread, not a time rule
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_pump_delivers_with_retry(receiver: tuple[Receiver, str], clock: FixedClock) -> None:
    hooks, url = receiver
    sandbox = Sandbox(seed=6, clock=clock, webhook_secret="sandbox-secret-1")
    pump = WebhookPump(sandbox, url, interval=0.02, attempts=3, backoff=0.02).start()
    try:
        refresh_order(sandbox)
        clock.advance(5)
        wait_for(lambda: pump.delivered == 3, "three deliveries")
    finally:
        started = time.monotonic()
        pump.stop()
        assert time.monotonic() - started < 2
    assert not pump.running
    assert (pump.delivered, pump.failed, pump.retried) == (3, 0, 1)
    assert [e["event_type"] for e in hooks.accepted] == [
        "task-status-updated",
        "order-status-updated",
        "employment-updated",
    ]
    first_body, first_headers = hooks.requests[0]
    assert hooks.requests[1][0] == first_body  # the retry sends the same bytes
    assert first_headers["user-agent"] == "Truv-Webhook-Service/2.0"
    assert first_headers["x-webhook-sign"] == sign(first_body, "sandbox-secret-1")
    log = sandbox.webhook_log()
    assert [(e["event_type"], e["attempt"], e["status"], e["delivered"]) for e in log] == [
        ("task-status-updated", 1, 500, False),
        ("task-status-updated", 2, 200, True),
        ("order-status-updated", 1, 200, True),
        ("employment-updated", 1, 200, True),
    ]
    assert log[0]["webhook_id"] == log[1]["webhook_id"] == json.loads(first_body)["webhook_id"]
    assert sandbox.journal() == [e for e in sandbox.journal() if e["path"].startswith("/v1/")]


def test_pump_gives_up_after_attempts_and_counts_transport_errors(clock: FixedClock) -> None:
    sandbox = Sandbox(seed=6, clock=clock)
    sandbox.reconnect_link(sandbox.add_order()["employers"][0]["link_id"])
    # Port 9 (discard) on loopback refuses connections: a transport error each time.
    pump = WebhookPump(sandbox, "http://127.0.0.1:9/hooks", interval=0.02, timeout=1.0, attempts=2, backoff=0.01)
    pump.start()
    try:
        wait_for(lambda: pump.failed == 2, "two abandoned webhooks")
    finally:
        pump.stop()
    log = sandbox.webhook_log()
    assert [(e["attempt"], e["status"], e["delivered"]) for e in log] == [(1, None, False), (2, None, False)] * 2
    assert all(e["error"] for e in log)
    assert pump.delivered == 0


def test_server_runs_the_pump(receiver: tuple[Receiver, str], clock: FixedClock) -> None:
    hooks, url = receiver
    hooks.fail_first = 0
    sandbox = Sandbox(seed=3, clock=clock)
    server = make_server(sandbox, host="127.0.0.1", port=0, webhook_url=url, webhook_interval=0.02)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, "sandbox startup")
        assert server.pump is not None
        wait_for(lambda: server.pump is not None and server.pump.running, "pump start")
        base = f"http://127.0.0.1:{bound_port(server)}"
        with httpx.Client(base_url=base, timeout=5) as admin:
            link_id = admin.post("/_sandbox/orders/", json={}).json()["employers"][0]["link_id"]
            admin.post(f"/_sandbox/links/{link_id}/reconnect/")
            wait_for(lambda: len(hooks.accepted) == 2, "two webhooks")
            # the receiver sees a delivery before the pump has logged its answer: wait for the log too
            wait_for(lambda: len(sandbox.webhook_log()) == 2, "two logged deliveries")
            assert [e["status"] for e in admin.get("/_sandbox/webhook-log/").json()] == [200, 200]
        assert [e["event_type"] for e in hooks.accepted] == ["link-connected", "task-status-updated"]
    finally:
        server.should_exit = True
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert not server.pump.running
