"""The built-in sandbox speaks Truv's documented shapes (shapes.py): every answer and webhook of a loan's life.

In-process through `SandboxTransport`, and one leg over real loopback HTTP (uvicorn). Any response body or
webhook payload that leaves the documented shape fails here, and so does a field the sandbox starts to
send that is neither modelled nor listed below as a known extra.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from monitor.clock import FixedClock
from monitor.sandbox import EmployerSpec, Sandbox, SandboxTransport
from monitor.sandbox.app import bound_port, make_server
from monitor.sandbox.model import iso
from tests.contract import shapes

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
AUTH = {"X-Access-Client-Id": "client-1", "X-Access-Secret": "sandbox-secret-1"}

# Fields the sandbox sends that the models leave to `extra="allow"`: documented on the page but not read by
# monitor, or (marked) a sandbox choice. A new one must be added here on purpose.
KNOWN_EXTRAS = {
    ("Suborder", "provider"),  # documented (provider)
    ("Suborder", "company"),  # documented (company name, address...)
    ("LinkReport", "provider"),  # documented
    ("LinkReport", "finished_at"),  # sandbox choice: the last finished task (not documented)
    ("EmploymentReport", "provider"),
    ("EmploymentReport", "finished_at"),
    ("AssetsAccount", "status"),  # choices: README "Where Truv is silent" (balances, transactions, status)
    ("AssetsAccount", "balances"),
    ("AssetsAccount", "transactions"),
}
# Suborder timestamps Truv does not document: the default sandbox must not send them.
UNDOCUMENTED_SUBORDER_TIMES = {"completed_at", "updated_at", "finished_at"}

_ROUTES: list[tuple[str, re.Pattern[str], type[BaseModel]]] = [
    ("GET", re.compile(r"/v1/orders/"), shapes.OrderList),
    ("GET", re.compile(r"/v1/orders/[^/]+/"), shapes.Order),
    ("POST", re.compile(r"/v1/orders/[^/]+/"), shapes.RefreshOrder),
    ("GET", re.compile(r"/v1/links/[^/]+/income/report/"), shapes.LinkReport),
    ("GET", re.compile(r"/v1/links/[^/]+/employment/report/"), shapes.EmploymentReport),
    ("GET", re.compile(r"/v1/links/[^/]+/"), shapes.Link),
    ("POST", re.compile(r"/v1/users/[^/]+/tokens/"), shapes.BridgeToken),
    ("GET", re.compile(r"/v1/users/[^/]+/assets/reports/[^/]+/"), shapes.AssetsReport),
]


def extras(model: BaseModel) -> set[tuple[str, str]]:
    """(model name, key) for every undeclared field anywhere in a validated model."""
    found = {(type(model).__name__, key) for key in model.model_extra or {}}
    for name in type(model).model_fields:
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, BaseModel):
                found |= extras(item)
    return found


class Checked:
    """An httpx client whose every answer is validated against the documented shape of its route."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.seen: Counter[str] = Counter()
        self.extras: set[tuple[str, str]] = set()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        self.validate(method, response)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def validate(self, method: str, response: httpx.Response) -> None:
        body = response.json()
        if response.status_code in (404, 405):
            model: type[BaseModel] = shapes.NotFound
        elif response.status_code >= 400:
            model = shapes.ErrorBody
            assert ("extra" in body["error"]) == (response.status_code == 400 and "extra" in body["error"])
        else:
            path = response.request.url.path
            model = next(m for verb, pattern, m in _ROUTES if verb == method and pattern.fullmatch(path))
            if model is shapes.Order and body.get("initial_order") is not None:
                model = shapes.RefreshOrder
        validated = model.model_validate(body)
        self.seen[f"{response.status_code} {model.__name__}"] += 1
        self.extras |= extras(validated)
        for group in ("employers", "financial_accounts"):
            for suborder in body.get(group) or [] if isinstance(body, dict) else []:
                assert not UNDOCUMENTED_SUBORDER_TIMES & set(suborder), suborder


def ago(days: float) -> str:
    return iso(T0 - timedelta(days=days))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def sandbox(clock: FixedClock) -> Iterator[Sandbox]:
    sb = Sandbox(seed=11, clock=clock)
    yield sb
    sb.close()


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[Checked]:
    transport = SandboxTransport(sandbox)
    with httpx.Client(base_url="https://prod.truv.com/v1/", transport=transport, headers=AUTH) as client:
        yield Checked(client)


def webhooks(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Every due webhook, each validated against the documented shape of its event type."""
    events = [w.event for w in sandbox.due_webhooks()]
    for event in events:
        shapes.webhook(event)
        if event["event_type"].startswith("link-"):
            assert "updated_at" not in event
    return events


@pytest.mark.refresh_of_refresh  # one 400 of the life is that refusal, on purpose
def test_a_loans_life_speaks_the_documented_shapes(sandbox: Sandbox, clock: FixedClock, api: Checked) -> None:
    a = sandbox.add_order(order_number="LN-A", created_at=ago(46), completed_at=ago(45))
    b = sandbox.add_order(
        order_number="LN-B",
        completed_at=ago(30),
        employers=[EmployerSpec(company="Ok Co"), EmployerSpec(company="Moved Co", scenario="login_error")],
    )
    gone = sandbox.add_order(order_number="LN-F", forbidden=True)

    # The original order, as documented: data date on the order, the invitation long expired.
    order = api.get(f"orders/{a['id']}/").json()
    assert (order["completed_at"], order["is_expired"], order["expired_at"]) == (ago(45), True, ago(43))

    # Refreshes: accepted (an expired invitation refuses nothing) until the per-token limit.
    children = [api.post(f"orders/{a['id']}/", json={"products": ["income"]}) for _ in range(3)]
    assert [c.status_code for c in children] == [200] * 3
    assert all(c.json()["completed_at"] is None for c in children)
    limit = api.post(f"orders/{a['id']}/", json={"products": ["income"]})
    assert (limit.status_code, limit.json()["error"]["message"]) == (
        400,
        "Refresh limit for the access_token exceeded",
    )
    # 400s, 404s, 403s, 401, 415.
    assert api.post(f"orders/{b['id']}/", json={"products": ["credit"]}).status_code == 400
    assert api.post(f"orders/{children[0].json()['id']}/", json={"products": ["income"]}).status_code == 400
    assert api.get("orders/0000/").status_code == 404
    assert api.post("orders/0000/", json={"products": ["income"]}).status_code == 404
    assert api.get(f"orders/{a['id']}").status_code == 404  # no trailing slash
    assert api.get(f"orders/{gone['id']}/").status_code == 403
    assert api.post(f"orders/{gone['id']}/", json={"products": ["income"]}).status_code == 403
    assert api.get(f"orders/{a['id']}/", headers={"X-Access-Secret": "sandbox-nope"}).status_code == 200
    assert api.get(f"orders/{a['id']}/", headers={"X-Access-Client-Id": ""}).status_code == 401
    bad_type = api.post(f"orders/{b['id']}/", content=b"x", headers={"Content-Type": "text/plain"})
    assert bad_type.status_code == 415

    # One refresh of B half fails (login_error on one employer), one fails whole.
    half = api.post(f"orders/{b['id']}/", json={"products": ["income"]}).json()
    moved = b["employers"][1]
    whole = api.post(f"orders/{b['id']}/", json={"products": ["income"], "employers": [{"id": moved["id"]}]}).json()
    assert webhooks(sandbox) == []  # nothing has happened yet
    clock.advance(5)
    done = [api.get(f"orders/{c.json()['id']}/").json() for c in children]
    assert {d["completed_at"] for d in done} == {iso(T0 + timedelta(seconds=5))}
    assert api.get(f"orders/{half['id']}/").json()["completed_at"] == iso(T0 + timedelta(seconds=5))
    assert api.get(f"orders/{whole['id']}/").json()["completed_at"] is None
    original = api.get(f"orders/{a['id']}/").json()
    assert original["updated_at"] > original["completed_at"]  # refreshes moved it; the data date did not

    events = webhooks(sandbox)
    failed = Counter(e["order_id"] for e in events if e["event_type"] == "order-refresh-failed")
    assert failed == {half["id"]: 1, whole["id"]: 1}  # exactly one per failed refresh order

    # Links, their reports, a Bridge update-mode token.
    link_id = a["employers"][0]["link_id"]
    assert api.get(f"links/{link_id}/").status_code == 200
    assert api.get(f"links/{link_id}/income/report/").status_code == 200
    assert api.get(f"links/{link_id}/employment/report/").status_code == 200
    token = api.post(
        f"users/{b['user_id']}/tokens/", json={"product_type": "income", "access_token": moved["access_token"]}
    )
    assert token.status_code == 200
    assert api.post(f"users/{b['user_id']}/tokens/", json={"product_type": "nope"}).status_code == 400
    assert api.get("links/0000/income/report/").status_code == 404

    # The end of a connection and of an order; a reconnection.
    clock.advance(60)
    sandbox.reconnect_link(moved["link_id"])
    sandbox.delete_link(link_id)
    sandbox.finalize_order(a["id"])
    sandbox.expire_order(b["id"])
    assert api.post(f"orders/{b['id']}/", json={"products": ["employment"]}).status_code == 200
    assert api.post(f"orders/{a['id']}/", json={"products": ["income"]}).status_code == 400  # finalized
    assert api.get(f"links/{link_id}/").json()["deleted_at"] is not None
    clock.advance(5)
    events += webhooks(sandbox)

    kinds = Counter(e["event_type"] for e in events)
    for kind in (
        "task-status-updated",
        "order-status-updated",
        "order-refresh-failed",
        "order-finalized",
        "employment-updated",
        "link-connected",
        "link-disconnected",
        "link-deleted",
    ):
        assert kinds[kind] > 0, kind
    for kind in ("200 Order", "200 RefreshOrder", "200 Link", "200 LinkReport", "200 EmploymentReport"):
        assert api.seen[kind] > 0, kind
    assert {"200 BridgeToken", "404 NotFound", "400 ErrorBody", "403 ErrorBody", "401 ErrorBody"} <= set(api.seen)
    assert api.extras <= KNOWN_EXTRAS, api.extras - KNOWN_EXTRAS


def test_throttled_answers_the_documented_error(clock: FixedClock) -> None:
    sandbox = Sandbox(seed=1, clock=clock, requests_per_minute=1)
    order = sandbox.add_order()
    with httpx.Client(base_url="https://prod.truv.com/v1/", transport=SandboxTransport(sandbox), headers=AUTH) as c:
        api = Checked(c)
        assert api.get(f"orders/{order['id']}/").status_code == 200
        throttled = api.get(f"orders/{order['id']}/")
    assert (throttled.status_code, throttled.json()["error"]["code"]) == (429, "throttled")


def test_the_opt_in_suborder_completed_at_is_the_only_difference(clock: FixedClock) -> None:
    plain = Sandbox(seed=2, clock=clock).add_order(completed_at=ago(3))
    refined = Sandbox(seed=2, clock=clock, suborder_completed_at=True).add_order(completed_at=ago(3))
    assert refined["employers"][0].pop("completed_at") == ago(3)
    assert refined == plain
    shapes.Order.model_validate(plain)


# ---- one leg over real loopback HTTP ----------------------------------------------------------------------


@pytest.fixture
def served(clock: FixedClock) -> Iterator[tuple[Sandbox, str]]:
    sandbox = Sandbox(seed=5, clock=clock)
    server = make_server(sandbox, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:  # polling a startup flag, not a time rule
        assert thread.is_alive(), "uvicorn stopped during startup"
        assert time.monotonic() < deadline, "uvicorn did not start within 5 s"
        time.sleep(0.01)
    yield sandbox, f"http://127.0.0.1:{bound_port(server)}"
    server.should_exit = True
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_same_shapes_over_loopback_http(served: tuple[Sandbox, str], clock: FixedClock) -> None:
    sandbox, base = served
    order = sandbox.add_order(order_number="LN-H", completed_at=ago(10))
    with httpx.Client(base_url=f"{base}/v1/", headers=AUTH, timeout=5) as client:
        api = Checked(client)
        child = api.post(f"orders/{order['id']}/", json={"products": ["income"]}).json()
        clock.advance(5)
        assert api.get(f"orders/{child['id']}/").json()["completed_at"] == iso(T0 + timedelta(seconds=5))
        assert api.get(f"orders/{order['id']}/").json()["refresh_order"] == child["id"]
        assert api.get(f"links/{order['employers'][0]['link_id']}/income/report/").status_code == 200
        assert api.get("orders/nope/").status_code == 404
    assert {"200 Order", "200 RefreshOrder", "200 LinkReport", "404 NotFound"} <= set(api.seen)
    assert [e["event_type"] for e in webhooks(sandbox)][:2] == ["task-status-updated", "order-status-updated"]


def test_the_assets_report_after_a_voa_refresh_is_the_documented_shape(
    sandbox: Sandbox, clock: FixedClock, api
) -> None:
    order = sandbox.add_order(products=("assets",), employers=[], financial_accounts=[{}], completed_at=ago(20))
    sandbox.script_asset_changes(order["financial_accounts"][0]["link_id"], {"at_refresh": 1, "large_deposit": True})
    refreshed = api.post(f"orders/{order['id']}/", json={"products": ["assets"]}).json()
    clock.advance(60)
    child = api.get(f"orders/{refreshed['id']}/").json()
    report = api.get(f"users/{child['user_id']}/assets/reports/{child['voa_report_id']}/")
    assert report.status_code == 200 and report.json()["report_id"] == child["voa_report_id"]
    assert api.get(f"users/{child['user_id']}/assets/reports/unknown/").status_code == 404
    assert api.seen["200 AssetsReport"] == 1
    assert api.extras <= KNOWN_EXTRAS, api.extras - KNOWN_EXTRAS
