"""The sandbox over real loopback HTTP with uvicorn, including a dropped connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from monitor.clock import FixedClock
from monitor.sandbox import Faults, Sandbox
from monitor.sandbox.app import bound_port, make_server
from tests.sandbox.conftest import AUTH


@pytest.fixture
def served(clock: FixedClock) -> Iterator[tuple[Sandbox, str]]:
    sandbox = Sandbox(seed=3, clock=clock, faults=Faults(drop_after_apply_rate=0.0))
    server = make_server(sandbox, host="127.0.0.1", port=0, latency=0.01)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:  # polling a startup flag, not waiting on a time rule
        assert thread.is_alive(), "uvicorn stopped during startup"
        assert time.monotonic() < deadline, "uvicorn did not start within 5 s"
        time.sleep(0.01)
    yield sandbox, f"http://127.0.0.1:{bound_port(server)}"
    server.should_exit = True
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_refresh_over_http(served: tuple[Sandbox, str]) -> None:
    sandbox, base = served
    with httpx.Client(base_url=base, timeout=5) as admin:
        root = admin.post("/_sandbox/orders/", json={"order_number": "L-1"}).json()
    with httpx.Client(base_url=f"{base}/v1/", headers=AUTH, timeout=5) as client:
        assert client.get(f"orders/{root['id']}/").json()["order_number"] == "L-1"
        created = client.post(f"orders/{root['id']}/", json={"products": ["income"]})
        assert created.status_code == 200
        assert client.get(f"orders/{root['id']}/").json()["refresh_order"] == created.json()["id"]
        assert client.get(f"orders/{root['id']}/", headers={"X-Access-Secret": "prod-x"}).status_code == 403
        assert client.get(f"orders/{root['id']}").json() == {"detail": "Not Found."}
        sandbox.faults.drop_after_apply_rate = 1.0
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(f"orders/{root['id']}/", json={"products": ["employment"]})
    assert [e["fault"] for e in sandbox.refreshes() if "fault" in e] == ["drop"]
    assert len(sandbox.refreshes()) == 2
