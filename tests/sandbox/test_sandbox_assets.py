"""The sandbox's assets (VOA) report, as Truv documents it (GET /v1/users/{user_id}/assets/reports/{id}/),
and the account changes a test scripts: each shows from its refresh on, and only there."""

from __future__ import annotations

from decimal import Decimal

import pytest

from monitor.clock import FixedClock
from monitor.sandbox import Sandbox
from tests.sandbox.conftest import make_client

DAY = 86400


def voa(client, order_id: str) -> dict:
    order = client.get(f"orders/{order_id}/").json()
    response = client.get(f"users/{order['user_id']}/assets/reports/{order['voa_report_id']}/")
    assert response.status_code == 200
    return response.json()


def refresh(client, clock: FixedClock, order_id: str) -> str:
    created = client.post(f"orders/{order_id}/", json={"products": ["assets"]})
    assert created.status_code in (200, 201)
    clock.advance(60)
    return created.json()["id"]


@pytest.mark.parametrize("kind", ["balance_drop", "large_deposit", "account_closed"])
def test_a_scripted_account_change_shows_from_its_refresh_on(clock: FixedClock, kind: str) -> None:
    sandbox = Sandbox(seed=3, clock=clock, refresh_limit_per_token=100, requests_per_minute=100_000)
    order = sandbox.add_order(products=("assets",), employers=[], financial_accounts=[{}])
    link_id = order["financial_accounts"][0]["link_id"]
    sandbox.script_asset_changes(link_id, {"at_refresh": 2, kind: True})
    with make_client(sandbox) as client:
        original = voa(client, order["id"])
        (link,) = original["links"]
        assert link["link_id"] == link_id
        assert set(original) >= {"report_id", "created_at", "completed_at", "days_requested", "links"}
        checking, savings = link["accounts"]
        assert (checking["type"], savings["type"]) == ("CHECKING", "SAVINGS")
        assert all(t["type"] == "CREDIT" and Decimal(t["amount"]) <= 6000 for t in checking["transactions"])
        reports = [original]
        for _ in range(2):
            clock.advance(30 * DAY)
            reports.append(voa(client, refresh(client, clock, order["id"])))
    before, first, second = ([a for link in r["links"] for a in link["accounts"]] for r in reports)
    total = [sum(Decimal(a["balances"]["balance"]) for a in accounts) for accounts in (before, first, second)]
    big = [
        [t for t in accounts[0]["transactions"] if Decimal(t["amount"]) > 6000] for accounts in (before, first, second)
    ]
    status = [accounts[1]["status"] for accounts in (before, first, second)]
    # Refresh 1 shows the seeded accounts again; refresh 2 the change, and only the scripted one.
    assert total[0] >= 30000 and total[1] == total[0]
    assert total[2] == (total[0] * Decimal("0.1") if kind == "balance_drop" else total[0])
    assert [len(b) for b in big] == ([0, 0, 1] if kind == "large_deposit" else [0, 0, 0])
    assert status == (["OPEN", "OPEN", "CLOSED"] if kind == "account_closed" else ["OPEN"] * 3)
    if kind == "large_deposit":
        assert big[2][0]["amount"] == "25000.00"


def test_an_unknown_report_is_404_and_bad_scripts_are_refused(clock: FixedClock) -> None:
    sandbox = Sandbox(seed=3, clock=clock)
    order = sandbox.add_order(products=("assets",), employers=[], financial_accounts=[{}])
    employer = sandbox.add_order()
    with make_client(sandbox) as client:
        assert client.get(f"users/{order['user_id']}/assets/reports/nope/").status_code == 404
    link_id = order["financial_accounts"][0]["link_id"]
    with pytest.raises(ValueError, match="one KIND of"):
        sandbox.script_asset_changes(link_id, {"at_refresh": 1, "promotion": True})
    with pytest.raises(ValueError, match="not a financial account"):
        sandbox.script_asset_changes(employer["employers"][0]["link_id"], {"at_refresh": 1, "balance_drop": True})
