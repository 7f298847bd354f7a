"""Request gatekeeping: auth, content negotiation, routing and the per-secret rate limit."""

from __future__ import annotations

import httpx
import pytest

from monitor.clock import FixedClock
from monitor.sandbox import Sandbox, SandboxTransport
from tests.sandbox.conftest import AUTH, make_client


@pytest.fixture
def order_path(sandbox: Sandbox) -> str:
    return f"orders/{sandbox.add_order()['id']}/"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "authentication_failed"),
        ({"X-Access-Client-Id": "client-1"}, 401, "authentication_failed"),
        ({"X-Access-Secret": "sandbox-secret-1"}, 401, "authentication_failed"),
        (
            {"X-Access-Client-Id": "client-1", "X-Access-Secret": "not-a-sandbox-secret"},
            401,
            "authentication_failed",
        ),
        (
            {"X-Access-Client-Id": "client-1", "X-Access-Secret": "prod-secret"},
            403,
            "not_authenticated",
        ),
        (
            {"X-Access-Client-Id": "client-1", "X-Access-Secret": "dev-secret"},
            403,
            "not_authenticated",
        ),
    ],
)
def test_auth_failures(sandbox: Sandbox, order_path: str, headers: dict[str, str], status: int, code: str) -> None:
    with make_client(sandbox, headers=headers) as client:
        response = client.get(order_path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert sandbox.journal()[-1]["status"] == status


def test_explicit_secret_list_rejects_other_sandbox_secrets(clock: FixedClock) -> None:
    sandbox = Sandbox(clock=clock, secrets=("sandbox-only-this",))
    path = f"orders/{sandbox.add_order()['id']}/"
    with make_client(sandbox) as client:
        assert client.get(path).status_code == 401
    with make_client(sandbox, headers={"X-Access-Client-Id": "c", "X-Access-Secret": "sandbox-only-this"}) as client:
        assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    ("accept", "status"),
    [("text/html", 406), ("application/xml", 406), ("application/json", 200), ("*/*", 200)],
)
def test_accept_header(client: httpx.Client, order_path: str, accept: str, status: int) -> None:
    assert client.get(order_path, headers={"Accept": accept}).status_code == status


def test_post_needs_json(client: httpx.Client, order_path: str) -> None:
    form = client.post(order_path, data={"products": "income"})
    text = client.post(order_path, content=b"products=income", headers={"Content-Type": "text/plain"})
    broken = client.post(order_path, content=b'{"products": [', headers={"Content-Type": "application/json"})
    assert [r.status_code for r in (form, text, broken)] == [415, 415, 415]
    assert form.json()["error"]["code"] == "unsupported_media_type"


def test_paths_must_end_with_slash_and_unknown_paths_are_404(client: httpx.Client, order_path: str) -> None:
    no_slash = client.get(order_path.rstrip("/"))
    assert no_slash.status_code == 404
    assert no_slash.json() == {"detail": "Not Found."}
    assert client.get("orders/does-not-exist/").json() == {"detail": "Not Found."}
    assert client.get("nothing/here/").status_code == 404


def test_wrong_method_is_405(client: httpx.Client) -> None:
    assert client.delete("links/abc/").status_code == 405


def test_throttle_at_limit_and_recovery_after_window(clock: FixedClock) -> None:
    sandbox = Sandbox(clock=clock, requests_per_minute=5)
    path = f"orders/{sandbox.add_order()['id']}/"
    with make_client(sandbox) as client:
        assert [client.get(path).status_code for _ in range(5)] == [200] * 5
        clock.advance(20)
        throttled = client.get(path)
        assert throttled.status_code == 429
        assert throttled.json()["error"] == {
            "code": "throttled",
            "message": "Request was throttled. Expected available in 40 seconds.",
        }
        assert "retry-after" not in throttled.headers
        # Another secret has its own window.
        other = {**AUTH, "X-Access-Secret": "sandbox-secret-2"}
        assert client.get(path, headers=other).status_code == 200
        clock.advance(39.5)
        assert client.get(path).status_code == 429
        clock.advance(0.5)  # the first five requests are now exactly 60 s old: out of the window
        assert [client.get(path).status_code for _ in range(5)] == [200] * 5
        assert client.get(path).status_code == 429


def test_throttled_requests_do_not_extend_the_window(clock: FixedClock) -> None:
    sandbox = Sandbox(clock=clock, requests_per_minute=2)
    path = f"orders/{sandbox.add_order()['id']}/"
    with make_client(sandbox) as client:
        client.get(path)
        client.get(path)
        for _ in range(10):
            clock.advance(5)
            assert client.get(path).status_code == 429
        clock.advance(10)  # 60 s after the two accepted requests
        assert client.get(path).status_code == 200


def test_admin_endpoints_are_not_rate_limited_or_authenticated(clock: FixedClock) -> None:
    sandbox = Sandbox(clock=clock, requests_per_minute=1)
    with httpx.Client(base_url="https://prod.truv.com", transport=SandboxTransport(sandbox)) as admin:
        for _ in range(3):
            assert admin.get("/_sandbox/journal/").status_code == 200
    assert sandbox.journal() == []
