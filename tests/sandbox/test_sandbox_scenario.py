"""Seeding: add_order rules, generated portfolios, scenario files and admin endpoints."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
import pytest

from monitor.clock import FixedClock, SystemClock
from monitor.sandbox import EmployerSpec, Sandbox, SandboxTransport
from monitor.sandbox.scenario import generate_portfolio, load_scenario_file
from tests.sandbox.conftest import T0


def test_add_order_with_explicit_ids(sandbox: Sandbox) -> None:
    order = sandbox.add_order(
        order_id="a" * 32,
        user_id="u" * 32,
        created_at="2024-01-02T03:04:05Z",
        employers=[
            {
                "access_token": "t" * 32,
                "link_id": "l" * 32,
                "scenario": "mfa_error",
                "company": "Acme",
            }
        ],
    )
    assert order["id"] == "a" * 32
    assert order["created_at"] == "2024-01-02T03:04:05Z"
    employer = order["employers"][0]
    assert (employer["access_token"], employer["link_id"], employer["status"]) == (
        "t" * 32,
        "l" * 32,
        "completed",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"employers": [{"scenario": "sometimes"}]}, "scenario: expected one of"),
        ({"employers": [{"colour": "red"}]}, "unknown keys"),
        ({"products": ("salary",)}, "products"),
        ({"created_at": "2024-01-01T00:00:00"}, "no timezone"),
    ],
)
def test_add_order_rejects_bad_specs(sandbox: Sandbox, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sandbox.add_order(**kwargs)


def test_shared_link_must_agree_and_ids_are_unique(sandbox: Sandbox) -> None:
    sandbox.add_order(order_id="o1", employers=[EmployerSpec(access_token="tok", scenario="ok")])
    with pytest.raises(ValueError, match="already exists"):
        sandbox.add_order(order_id="o1")
    with pytest.raises(ValueError, match="must agree"):
        sandbox.add_order(employers=[EmployerSpec(access_token="tok", scenario="login_error")])
    with pytest.raises(ValueError, match="belongs to user"):
        sandbox.add_order(user_id="someone-else", employers=[EmployerSpec(access_token="tok")])


def test_generate_portfolio_rows_and_orders(clock: FixedClock) -> None:
    sandbox = Sandbox(seed=1, clock=clock)
    rows = generate_portfolio(sandbox, 400, seed=5, shared_token_share=0.05, failing_share=0.1)
    assert len(rows) == 400
    assert set(rows[0]) == {"loan_id", "order_id", "gse", "status", "closing_date", "program"}
    assert len({r["loan_id"] for r in rows}) == 400
    gse = sum(r["gse"] == "true" for r in rows)
    assert 80 < gse < 160  # ~30 %
    orders = [sandbox.order(r["order_id"]) for r in rows]
    assert all(o["order_number"] == r["loan_id"] for o, r in zip(orders, rows, strict=True))
    # Truth about data dates is beside the rows, never in them.
    for order, row in zip(orders, rows, strict=True):
        assert rows.truth_completed_at[row["loan_id"]] == order["completed_at"] >= order["created_at"]
        assert sandbox.oldest_completed_at()[order["id"]] == order["completed_at"]
    tokens = Counter(e["access_token"] for o in orders for e in o["employers"])
    assert any(count > 1 for count in tokens.values())
    statuses = Counter(sandbox.link(e["link_id"])["status"] for o in orders for e in o["employers"])
    assert statuses == {"done": sum(tokens.values())}  # nothing has been refreshed yet


def test_generate_portfolio_is_deterministic() -> None:
    def run() -> list[dict[str, str]]:
        return generate_portfolio(Sandbox(seed=2, clock=FixedClock(T0)), 50, seed=9)

    assert run() == run()


def test_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(
        """
seed: 11
settings:
  rpm: 120
  completion_delay: 2
  latency: 0.25
  faults: "5xx=0.1,retry_after=2"
orders:
  - order_id: "00000000000000000000000000000001"
    order_number: LOAN-1
    employers:
      - {access_token: tok-1, scenario: login_error}
portfolio: {n: 3, seed: 4}
"""
    )
    loaded = load_scenario_file(path, clock=FixedClock(T0))
    assert loaded.latency == 0.25
    assert loaded.sandbox.faults.error_5xx_rate == 0.1
    assert loaded.sandbox.completion_delay == 2
    assert loaded.sandbox.order("00000000000000000000000000000001")["order_number"] == "LOAN-1"
    assert len(loaded.loans) == 3
    again = load_scenario_file(path, clock=FixedClock(T0))
    assert again.loans == loaded.loans


def test_scenario_file_json_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "s.json"
    good.write_text(json.dumps({"seed": 1, "orders": [{"order_id": "x1", "products": ["employment"]}]}))
    assert load_scenario_file(good).sandbox.order("x1")["products"] == ["employment"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("orders:\n  - employers: [{scenario: nope}]\n")
    with pytest.raises(ValueError, match=r"bad.yaml: orders\[0\]\.employers\[0\]\.scenario"):
        load_scenario_file(bad)
    unquoted = tmp_path / "unquoted.yaml"
    unquoted.write_text("orders:\n  - order_id: 0001\n")
    with pytest.raises(ValueError, match=r"orders\[0\]\.order_id: expected a string \(quote it in YAML\), got 1"):
        load_scenario_file(unquoted)
    typo = tmp_path / "typo.yaml"
    typo.write_text("settings: {rmp: 5}\n")
    with pytest.raises(ValueError, match="settings: unknown key 'rmp'"):
        load_scenario_file(typo)


def test_admin_endpoints(clock: FixedClock) -> None:
    sandbox = Sandbox(clock=clock)
    with httpx.Client(base_url="http://sandbox", transport=SandboxTransport(sandbox)) as admin:
        created = admin.post("/_sandbox/orders/", json={"order_number": "L-7", "employers": [{"scenario": "flaky"}]})
        assert created.status_code == 201
        assert admin.post("/_sandbox/orders/", json={"bogus": 1}).status_code == 400
        advanced = admin.post("/_sandbox/clock/advance/", json={"seconds": 90})
        assert advanced.json()["now"] == "2024-06-03T09:01:30Z"
        assert admin.post("/_sandbox/clock/advance/", json={"seconds": "soon"}).status_code == 400
        link_id = created.json()["employers"][0]["link_id"]
        assert admin.post(f"/_sandbox/links/{link_id}/reconnect/").json()["status"] == "done"
        assert admin.get("/_sandbox/journal/").json() == []
    assert clock.monotonic() == 90


def test_admin_clock_needs_fixed_clock() -> None:
    sandbox = Sandbox(clock=SystemClock())
    with httpx.Client(base_url="http://sandbox", transport=SandboxTransport(sandbox)) as admin:
        assert admin.post("/_sandbox/clock/advance/", json={"seconds": 1}).status_code == 409
