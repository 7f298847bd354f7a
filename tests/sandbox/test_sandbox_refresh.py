"""Data refresh, order completion, links and Bridge tokens, all on a FixedClock."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from monitor.clock import FixedClock
from monitor.sandbox import EmployerSpec, Sandbox
from tests.sandbox.conftest import make_client

Refresh = Callable[..., httpx.Response]
DAY = 24 * 3600


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_refresh_creates_a_linked_pending_order(sandbox: Sandbox, refresh: Refresh) -> None:
    root = sandbox.add_order(order_number="LOAN-1", employers=[EmployerSpec(company="Acme")])
    response = refresh(root["id"])
    assert response.status_code == 200
    child = response.json()
    assert child["id"] != root["id"]
    assert child["initial_order"] == root["id"]
    assert child["refresh_order"] is None
    assert (child["order_number"], child["user_id"], child["products"]) == (
        "LOAN-1",
        root["user_id"],
        ["income"],
    )
    [old], [new] = root["employers"], child["employers"]
    assert new["id"] != old["id"]
    assert {k: new[k] for k in ("suborder_number", "link_id", "access_token")} == {
        k: old[k] for k in ("suborder_number", "link_id", "access_token")
    }
    assert new["status"] == "pending"
    assert new["company"] == {"name": "Acme"}
    assert sandbox.order(root["id"])["refresh_order"] == child["id"]
    [entry] = sandbox.refreshes()
    assert entry["parent_order_id"] == root["id"]
    assert entry["created_order_id"] == child["id"]
    assert entry["token_hashes"] == [sha(old["access_token"])]
    assert old["access_token"] not in json.dumps(sandbox.journal())


@pytest.mark.parametrize(
    ("scenario", "employer_status", "link_status"),
    [
        ("ok", "completed", "done"),
        ("no_data", "no_data", "no_data"),
        ("login_error", "error", "login_error"),
        ("mfa_error", "error", "mfa_error"),
        ("account_locked", "error", "account_locked"),
        ("unavailable", "error", "unavailable"),
    ],
)
def test_completion_after_delay(
    sandbox: Sandbox,
    clock: FixedClock,
    client: httpx.Client,
    refresh: Refresh,
    scenario: str,
    employer_status: str,
    link_status: str,
) -> None:
    root = sandbox.add_order(employers=[EmployerSpec(scenario=scenario)])
    link_path = f"links/{root['employers'][0]['link_id']}/"
    child_id = refresh(root["id"]).json()["id"]
    clock.advance(4.9)
    assert client.get(f"orders/{child_id}/").json()["employers"][0]["status"] == "pending"
    assert client.get(link_path).json()["status"] == "done"
    clock.advance(0.1)
    done = client.get(f"orders/{child_id}/").json()
    assert done["employers"][0]["status"] == employer_status
    assert done["updated_at"] == "2024-06-03T09:00:05Z"
    link = client.get(link_path).json()
    assert (link["status"], link["updated_at"]) == (link_status, "2024-06-03T09:00:05Z")


def test_flaky_fails_first_refresh_only(sandbox: Sandbox, clock: FixedClock, refresh: Refresh) -> None:
    root = sandbox.add_order(employers=[EmployerSpec(scenario="flaky")])
    first = refresh(root["id"]).json()["id"]
    clock.advance(10)
    second = refresh(root["id"]).json()["id"]
    clock.advance(10)
    assert sandbox.order(first)["employers"][0]["status"] == "error"
    assert sandbox.order(second)["employers"][0]["status"] == "completed"
    assert sandbox.link(root["employers"][0]["link_id"])["status"] == "done"


def test_failed_login_link_still_accepts_refreshes_until_reconnected(
    sandbox: Sandbox, clock: FixedClock, refresh: Refresh
) -> None:
    root = sandbox.add_order(employers=[EmployerSpec(scenario="login_error")])
    link_id = root["employers"][0]["link_id"]
    for _ in range(2):
        response = refresh(root["id"])
        assert response.status_code == 200
        clock.advance(10)
        assert sandbox.order(response.json()["id"])["employers"][0]["status"] == "error"
    sandbox.reconnect_link(link_id)
    assert sandbox.link(link_id)["status"] == "done"
    retried = refresh(root["id"]).json()["id"]
    clock.advance(10)
    assert sandbox.order(retried)["employers"][0]["status"] == "completed"


def test_fourth_refresh_within_24h_is_refused_until_the_first_ages_out(
    sandbox: Sandbox, clock: FixedClock, refresh: Refresh
) -> None:
    root = sandbox.add_order()
    for _ in range(3):
        assert refresh(root["id"]).status_code == 200
        clock.advance(3600)
    before = sandbox.order(root["id"])["refresh_order"]
    refused = refresh(root["id"])
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "incorrect_parameters"
    assert refused.json()["error"]["message"] == "Refresh limit for the access_token exceeded"
    assert sandbox.order(root["id"])["refresh_order"] == before
    assert len(sandbox.refreshes()) == 3
    clock.advance(DAY - 3 * 3600 - 1)  # first refresh is 24h - 1s old: still counts
    assert refresh(root["id"]).status_code == 400
    clock.advance(1)  # now exactly 24 h old: out of (now - 24h, now]
    assert refresh(root["id"]).status_code == 200
    assert refresh(root["id"]).status_code == 400


def test_token_budget_is_shared_across_orders_using_the_token(sandbox: Sandbox, refresh: Refresh) -> None:
    a = sandbox.add_order(employers=[EmployerSpec(access_token="tok-shared-0001")])
    b = sandbox.add_order(employers=[EmployerSpec(access_token="tok-shared-0001")])
    assert a["employers"][0]["link_id"] == b["employers"][0]["link_id"]
    assert b["user_id"] == a["user_id"]
    assert [refresh(o["id"]).status_code for o in (a, b, a, b)] == [200, 200, 200, 400]


def test_employers_filter_spends_only_that_employers_token(sandbox: Sandbox, refresh: Refresh) -> None:
    root = sandbox.add_order(employers=[EmployerSpec(access_token="tok-a"), EmployerSpec(access_token="tok-b")])
    first, second = root["employers"]
    for _ in range(3):
        response = refresh(root["id"], employers=[{"suborder_number": first["suborder_number"]}])
        assert [e["access_token"] for e in response.json()["employers"]] == ["tok-a"]
    assert refresh(root["id"]).json()["error"]["message"] == "Refresh limit for the access_token exceeded"
    only_b = refresh(root["id"], employers=[{"id": second["id"]}])
    assert only_b.status_code == 200
    assert sandbox.refreshes()[-1]["token_hashes"] == [sha("tok-b")]


def test_employers_sharing_a_link_spend_one_unit(sandbox: Sandbox, refresh: Refresh) -> None:
    root = sandbox.add_order(employers=[EmployerSpec(access_token="tok-same"), EmployerSpec(access_token="tok-same")])
    assert [refresh(root["id"]).status_code for _ in range(4)] == [200, 200, 200, 400]
    assert sandbox.refreshes()[0]["token_hashes"] == [sha("tok-same")]


@pytest.mark.parametrize(
    ("products", "body", "field"),
    [
        (("income",), {"products": []}, "products"),
        (("income",), {"products": ["income", "employment"]}, "products"),
        (("income",), {"products": ["salary"]}, "products"),
        (("income",), {}, "products"),
        (("employment",), {"products": ["income"]}, "products"),
        (("assets",), {"products": ["income"]}, "products"),
        (("income",), {"products": ["income"], "employers": [{"id": "nope"}]}, "employers[0]"),
        (("income",), {"products": ["income"], "employers": [{}]}, "employers[0]"),
        (
            ("income",),
            {"products": ["income"], "financial_accounts": [{"suborder_number": "x"}]},
            "financial_accounts[0]",
        ),
    ],
)
def test_invalid_refresh_requests(
    sandbox: Sandbox, client: httpx.Client, products: tuple[str, ...], body: dict, field: str
) -> None:
    root = sandbox.add_order(products=products)
    response = client.post(f"orders/{root['id']}/", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "incorrect_parameters"
    assert field in [p["field"] for p in error["extra"]["invalid-params"]]
    assert sandbox.refreshes() == []
    assert sandbox.order(root["id"])["refresh_order"] is None


@pytest.mark.parametrize(
    ("products", "requested"),
    [(("income",), "income"), (("income",), "employment"), (("employment",), "employment")],
)
def test_allowed_product_combinations(
    sandbox: Sandbox, refresh: Refresh, products: tuple[str, ...], requested: str
) -> None:
    root = sandbox.add_order(products=products)
    response = refresh(root["id"], requested)
    assert response.status_code == 200
    assert response.json()["products"] == [requested]


def test_assets_refresh_uses_financial_accounts(sandbox: Sandbox, refresh: Refresh) -> None:
    root = sandbox.add_order(products=("assets",), employers=[], financial_accounts=[EmployerSpec(company="Bank")])
    child = refresh(root["id"], "assets").json()
    assert child["employers"] == []
    assert child["financial_accounts"][0]["suborder_number"] == root["financial_accounts"][0]["suborder_number"]
    assert child["financial_accounts"][0]["data_source"] == "financial_accounts"


def test_refresh_of_unknown_order_is_404(refresh: Refresh) -> None:
    assert refresh("0" * 32).json() == {"detail": "Not Found."}


@pytest.mark.refresh_of_refresh
def test_refresh_of_a_refresh_order_is_refused_and_journaled(
    sandbox: Sandbox, clock: FixedClock, refresh: Refresh
) -> None:
    root = sandbox.add_order()
    r1 = refresh(root["id"]).json()["id"]
    refused = refresh(r1)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": {
            "code": "incorrect_parameters",
            "message": f"Refresh the original order: {r1} is a refresh order (initial_order {root['id']})",
        }
    }
    assert sandbox.refresh_of_refresh_refusals == 1
    entry = sandbox.journal()[-1]
    assert (entry["refused"], entry["parent_order_id"], entry["root_order_id"], entry["created_order_id"]) == (
        "refresh_of_refresh",
        r1,
        root["id"],
        None,
    )
    assert sandbox.order(r1)["refresh_order"] is None
    assert len(sandbox.refreshes()) == 1
    # Nothing was spent: two more refreshes of the original fit in the per-token budget.
    clock.advance(10)
    r2 = refresh(root["id"]).json()
    assert refresh(root["id"]).status_code == 200
    assert r2["initial_order"] == root["id"]  # the origin, not the previous refresh
    assert sandbox.order(root["id"])["refresh_order"] == sandbox.refreshes()[-1]["created_order_id"]
    assert sandbox.root_refresh_counts() == {root["id"]: 3}
    assert sandbox.refusal_counts() == {"refresh_of_refresh": 1}


def test_refresh_filters_name_the_original_orders_suborders(sandbox: Sandbox, refresh: Refresh) -> None:
    root = sandbox.add_order(employers=[EmployerSpec(access_token="tok-a"), EmployerSpec(access_token="tok-b")])
    first, second = root["employers"]
    child = refresh(root["id"], employers=[{"suborder_number": second["suborder_number"]}]).json()
    [new] = child["employers"]
    assert new["id"] not in (first["id"], second["id"])
    assert (new["suborder_number"], new["link_id"], new["access_token"]) == (
        second["suborder_number"],
        second["link_id"],
        "tok-b",
    )
    # A refresh suborder's id is not an item of the original order.
    wrong = refresh(root["id"], employers=[{"id": new["id"]}])
    assert wrong.status_code == 400
    [problem] = wrong.json()["error"]["extra"]["invalid-params"]
    assert problem["field"] == "employers[0]"
    assert f"refresh order {child['id']}" in problem["message"]
    by_id = refresh(root["id"], employers=[{"id": first["id"]}]).json()
    assert [e["suborder_number"] for e in by_id["employers"]] == [first["suborder_number"]]


def test_link_object(sandbox: Sandbox, client: httpx.Client) -> None:
    root = sandbox.add_order(employers=[EmployerSpec(access_token="abcdef1234567610")])
    link = client.get(f"links/{root['employers'][0]['link_id']}/").json()
    assert link["access_token"] == "****7610"
    assert link["deleted_at"] is None
    assert link["status"] == "done"
    assert link["provider"]["name"]
    assert link["data_source"] == "payroll"
    assert client.get("links/unknown/").status_code == 404


def test_bridge_tokens(sandbox: Sandbox, client: httpx.Client) -> None:
    root = sandbox.add_order(employers=[EmployerSpec(access_token="tok-user-1")])
    other = sandbox.add_order(employers=[EmployerSpec(access_token="tok-user-2")])
    path = f"users/{root['user_id']}/tokens/"
    plain = client.post(path, json={"product_type": "income"})
    update = client.post(
        path,
        json={"product_type": "income", "access_token": "tok-user-1", "tracking_info": "LOAN-9"},
    )
    assert (plain.status_code, update.status_code) == (200, 200)
    assert plain.json()["bridge_token"] != update.json()["bridge_token"]
    assert update.json()["access_token"] == "tok-user-1"
    assert update.json()["tracking_info"] == "LOAN-9"
    assert set(update.json()) == {
        "bridge_token",
        "tracking_info",
        "client_name",
        "product_type",
        "allowed_products",
        "company_mapping_id",
        "access_token",
    }
    assert client.post(path, json={}).status_code == 400
    assert client.post(path, json={"product_type": "income", "access_token": "tok-user-2"}).status_code == 400
    assert client.post(f"users/{'f' * 32}/tokens/", json={"product_type": "income"}).status_code == 404
    assert other["user_id"] != root["user_id"]


def _run_script(sandbox: Sandbox, clock: FixedClock) -> list[dict]:
    root = sandbox.add_order(order_number="L-1", employers=[EmployerSpec(), EmployerSpec(scenario="flaky")])
    with make_client(sandbox) as client:
        child = client.post(f"orders/{root['id']}/", json={"products": ["income"]}).json()
        clock.advance(30)
        client.get(f"orders/{child['id']}/")
        client.post(f"users/{root['user_id']}/tokens/", json={"product_type": "income"})
        client.post(f"orders/{child['id']}/", json={"products": ["employment"]})  # refused
        client.post(f"orders/{root['id']}/", json={"products": ["employment"]})
    return [*sandbox.journal(), sandbox.order(child["id"]), sandbox.order(root["id"])]


def test_same_seed_same_calls_same_ids_and_journal() -> None:
    from tests.sandbox.conftest import T0

    runs = []
    for seed in (3, 3, 4):
        clock = FixedClock(T0)
        runs.append(_run_script(Sandbox(seed=seed, clock=clock), clock))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_journal_file_mirrors_entries(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "journal.jsonl"
    sandbox = Sandbox(clock=clock, journal_path=path)
    root = sandbox.add_order()
    with make_client(sandbox) as client:
        client.post(f"orders/{root['id']}/", json={"products": ["income"]})
        client.get("orders/missing/")
        # Lines are flushed as written, so a reader sees them before close.
        lines = [json.loads(line) for line in path.read_text().splitlines()]
    sandbox.close()
    assert lines == sandbox.journal()
    assert [e["status"] for e in lines] == [200, 404]
