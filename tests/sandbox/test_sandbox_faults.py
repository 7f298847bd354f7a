"""Injected faults as a client sees them through the in-process transport."""

from __future__ import annotations

import json

import httpx
import pytest

from monitor.clock import FixedClock
from monitor.sandbox import Faults, Sandbox
from tests.sandbox.conftest import make_client


def faulty(clock: FixedClock, **rates: float | None) -> tuple[Sandbox, dict]:
    sandbox = Sandbox(clock=clock, faults=Faults(**rates))  # type: ignore[arg-type]
    return sandbox, sandbox.add_order()


def test_drop_after_apply_creates_the_order_but_loses_the_answer(clock: FixedClock) -> None:
    sandbox, root = faulty(clock, drop_after_apply_rate=1.0)
    with make_client(sandbox) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(f"orders/{root['id']}/", json={"products": ["income"]})
        # Reconciliation path: the parent names the refresh that was created.
        parent = client.get(f"orders/{root['id']}/").json()
    [created] = sandbox.refreshes()
    assert created["fault"] == "drop"
    assert parent["refresh_order"] == created["created_order_id"]


def test_drop_applies_only_to_refreshes(clock: FixedClock) -> None:
    sandbox, root = faulty(clock, drop_after_apply_rate=1.0)
    with make_client(sandbox) as client:
        assert client.get(f"orders/{root['id']}/").status_code == 200


def test_slow_answer_times_out_after_being_applied(clock: FixedClock) -> None:
    sandbox, root = faulty(clock, slow_rate=1.0, slow_seconds=40)
    with make_client(sandbox, timeout=10) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"orders/{root['id']}/", json={"products": ["income"]})
    assert len(sandbox.refreshes()) == 1
    with make_client(sandbox, timeout=60) as patient:
        assert patient.get(f"orders/{root['id']}/").status_code == 200
    assert clock.monotonic() == 0  # nothing slept


def test_5xx_is_not_applied_and_bodies_vary(clock: FixedClock) -> None:
    sandbox, root = faulty(clock, error_5xx_rate=1.0)
    with make_client(sandbox) as client:
        answers = [client.post(f"orders/{root['id']}/", json={"products": ["income"]}) for _ in range(12)]
    assert {r.status_code for r in answers} == {500, 503}
    kinds = {r.headers["content-type"] for r in answers}
    assert kinds == {"text/html", "application/json"}
    assert sandbox.refreshes() == []
    assert sandbox.order(root["id"])["refresh_order"] is None


@pytest.mark.parametrize(("retry_after", "header"), [(None, None), (2.5, "3")])
def test_injected_throttle(clock: FixedClock, retry_after: float | None, header: str | None) -> None:
    sandbox, root = faulty(clock, throttle_rate=1.0, throttle_retry_after=retry_after)
    with make_client(sandbox) as client:
        response = client.get(f"orders/{root['id']}/")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert response.headers.get("retry-after") == header


def test_malformed_json_is_truncated_after_apply(clock: FixedClock) -> None:
    sandbox, root = faulty(clock, malformed_json_rate=1.0)
    with make_client(sandbox) as client:
        response = client.post(f"orders/{root['id']}/", json={"products": ["income"]})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert len(sandbox.refreshes()) == 1


def test_not_found_only_for_order_gets(clock: FixedClock) -> None:
    sandbox, root = faulty(clock, not_found_rate=1.0)
    with make_client(sandbox) as client:
        assert client.get(f"orders/{root['id']}/").json() == {"detail": "Not Found."}
        assert client.get(f"links/{root['employers'][0]['link_id']}/").status_code == 200
        assert client.post(f"orders/{root['id']}/", json={"products": ["income"]}).status_code == 200


def test_fault_sequence_is_reproducible(clock: FixedClock) -> None:
    def statuses(seed: int) -> list[int]:
        sandbox = Sandbox(
            clock=FixedClock(clock.now()),
            faults=Faults(seed=seed, error_5xx_rate=0.3, not_found_rate=0.3),
        )
        root = sandbox.add_order()
        with make_client(sandbox) as client:
            return [client.get(f"orders/{root['id']}/").status_code for _ in range(40)]

    assert statuses(1) == statuses(1)
    assert statuses(1) != statuses(2)
    assert {200, 404} <= set(statuses(1))


def test_parse_full_flag() -> None:
    faults = Faults.parse("5xx=0.1,429=0.05,retry_after=2,slow=0.02:40,drop=0.05,malformed=0.02,404=0.01,seed=9")
    assert faults == Faults(
        seed=9,
        error_5xx_rate=0.1,
        throttle_rate=0.05,
        throttle_retry_after=2.0,
        slow_rate=0.02,
        slow_seconds=40.0,
        drop_after_apply_rate=0.05,
        malformed_json_rate=0.02,
        not_found_rate=0.01,
    )
    assert Faults.parse("") == Faults()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5xx=2", "5xx: expected a rate between 0 and 1"),
        ("drop=abc", "drop: expected a rate as a number"),
        ("bogus=0.1", "expected KEY=VALUE with KEY one of"),
        ("slow", "expected KEY=VALUE"),
        ("slow=0.1:-3", "slow: expected seconds >= 0"),
        ("seed=x", "seed: expected an integer"),
    ],
)
def test_parse_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults.parse(text)
