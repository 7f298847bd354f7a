"""Data dates, report ids, mixed orders, suborder styles and the end of an order's or a link's life."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from monitor.cli.sandbox import serve_sandbox
from monitor.clock import FixedClock
from monitor.errors import InputError
from monitor.sandbox import EmployerSpec, Sandbox, SandboxTransport
from monitor.sandbox.model import iso
from monitor.sandbox.scenario import generate_portfolio, load_scenario_file
from tests.sandbox.conftest import T0, make_client

Refresh = Callable[..., httpx.Response]
DAY = 24 * 3600
FORBIDDEN = {
    "error": {
        "code": "not_authenticated",
        "message": "Credentials are valid but do not have permission to access this resource",
    }
}
ORDER_EVENT = {
    "webhook_id",
    "event_type",
    "event_created_at",
    "updated_at",
    "user_id",
    "template_id",
    "order_id",
    "order_number",
    "employer_id",
    "link_id",
    "product",
    "data_source",
    "status",
}


def ago(days: float) -> str:
    return iso(T0 - timedelta(days=days))


# ---- data dates ------------------------------------------------------------------------


def test_seeded_order_verified_45_days_ago(sandbox: Sandbox, client: httpx.Client) -> None:
    root = sandbox.add_order(completed_at=ago(45))
    body = client.get(f"orders/{root['id']}/").json()
    [employer] = body["employers"]
    assert body["completed_at"] == ago(45)  # the order-level data date (orders_read example)
    assert (employer["status"], employer["last_task_status"]) == ("completed", "done")
    # A suborder documents `created_at` as its only timestamp.
    assert employer["created_at"] == ago(45)
    assert not {"completed_at", "updated_at", "finished_at"} & set(employer)
    assert body["created_at"] == ago(45)  # created_at defaults to completed_at
    # The invitation expired 72 h after creation; updated_at moved then, not the data date.
    assert (body["is_expired"], body["expired_at"]) == (True, ago(42))
    assert body["updated_at"] == ago(42)
    assert client.get(f"links/{employer['link_id']}/").json()["updated_at"] == ago(45)
    assert sandbox.oldest_completed_at() == {root["id"]: ago(45)}


def test_suborder_completed_at_is_an_opt_in(clock: FixedClock) -> None:
    sandbox = Sandbox(clock=clock, suborder_completed_at=True)
    body = sandbox.add_order(completed_at=ago(45))
    assert body["employers"][0]["completed_at"] == body["completed_at"] == ago(45)
    assert "updated_at" not in body["employers"][0]
    with pytest.raises(ValueError, match="suborder_completed_at"):
        Sandbox(clock=clock, suborder_completed_at="yes")  # type: ignore[arg-type]


def test_completed_at_defaults_to_created_at_and_may_differ_per_employer(sandbox: Sandbox) -> None:
    plain = sandbox.add_order(created_at=ago(10))
    assert plain["completed_at"] == ago(10)
    now = sandbox.add_order()
    assert now["completed_at"] == iso(T0)
    mixed = sandbox.add_order(
        created_at=ago(60),
        completed_at=ago(59),
        employers=[EmployerSpec(), {"completed_at": ago(20)}],
    )
    # The order completed when its last connection's data was in; the links keep their own moments.
    assert mixed["completed_at"] == ago(20)
    assert [sandbox.link(e["link_id"])["updated_at"] for e in mixed["employers"]] == [ago(59), ago(20)]
    assert sandbox.oldest_completed_at()[mixed["id"]] == ago(20)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"completed_at": iso(T0 + timedelta(seconds=1))}, "completed_at: .* is after now"),
        ({"created_at": ago(5), "completed_at": ago(6)}, "completed_at: .* is before the order's created_at"),
        ({"created_at": ago(5), "employers": [{"completed_at": ago(6)}]}, r"employers\[0\]\.completed_at"),
        ({"completed_at": "2024-01-01T00:00:00"}, "no timezone"),
        ({"finalize_at_refresh": 0}, "finalize_at_refresh"),
        ({"employers": []}, "at least one"),
        ({"employers": [{"status_style": "loud"}]}, "status_style"),
    ],
)
def test_bad_data_dates_are_refused(sandbox: Sandbox, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sandbox.add_order(**kwargs)


def test_refresh_suborder_completed_at_is_when_its_task_finished(
    sandbox: Sandbox, clock: FixedClock, client: httpx.Client, refresh: Refresh
) -> None:
    root = sandbox.add_order(
        completed_at=ago(45),
        employers=[EmployerSpec(company="A"), EmployerSpec(company="B", scenario="unavailable")],
    )
    child = refresh(root["id"]).json()
    assert child["completed_at"] is None
    assert [(e["status"], e["last_task_status"]) for e in child["employers"]] == [("pending", None)] * 2
    clock.advance(4)
    assert client.get(f"orders/{child['id']}/").json()["completed_at"] is None  # still running
    clock.advance(1)
    done = client.get(f"orders/{child['id']}/").json()
    finished = iso(T0 + timedelta(seconds=5))
    # Every suborder terminal, one completed: the refresh order completed then.
    assert done["completed_at"] == finished
    assert [(e["status"], e["last_task_status"]) for e in done["employers"]] == [
        ("completed", "done"),
        ("error", "unavailable"),
    ]
    # The original order's data date does not move (its updated_at did: a refresh was made from it).
    original = client.get(f"orders/{root['id']}/").json()
    assert (original["completed_at"], original["refresh_order"]) == (ago(45), child["id"])
    assert original["updated_at"] == iso(T0) > original["completed_at"]
    assert sandbox.oldest_completed_at() == {root["id"]: ago(45)}  # refresh orders are not listed
    assert sandbox.data_as_of(root["id"]) == ago(45)  # employer B's refresh failed: still 45 days
    assert sandbox.data_as_of(child["id"]) == ago(45)  # a refresh order's id names the same loan


def test_a_refresh_that_brought_no_data_has_no_completed_at(
    sandbox: Sandbox, clock: FixedClock, client: httpx.Client, refresh: Refresh
) -> None:
    root = sandbox.add_order(completed_at=ago(45), employers=[EmployerSpec(scenario="login_error")])
    child = refresh(root["id"]).json()
    clock.advance(60)
    body = client.get(f"orders/{child['id']}/").json()
    assert (body["employers"][0]["status"], body["completed_at"]) == ("error", None)
    assert sandbox.data_as_of(root["id"]) == ago(45)


def test_data_as_of_takes_the_newest_data_per_connection(sandbox: Sandbox, clock: FixedClock, refresh: Refresh) -> None:
    root = sandbox.add_order(
        completed_at=ago(45),
        employers=[EmployerSpec(access_token="tok-a"), EmployerSpec(access_token="tok-b", completed_at=ago(30))],
    )
    first, second = root["employers"]
    refresh(root["id"], employers=[{"id": first["id"]}])
    clock.advance(5)
    assert sandbox.data_as_of(root["id"]) == ago(30)  # A is fresh now, B is 30 days old
    child = refresh(root["id"], employers=[{"id": second["id"]}]).json()
    assert sandbox.data_as_of(child["id"]) == ago(30)  # still running
    clock.advance(5)
    assert sandbox.data_as_of(child["id"]) == iso(T0 + timedelta(seconds=5))


def test_scenario_file_seeds_data_dates_and_order_states(tmp_path: Path) -> None:
    path = tmp_path / "dates.yaml"
    path.write_text(
        f"""
settings:
  refresh_limit_status: 429
  finalize_at_refresh: 2
orders:
  - order_id: "old"
    created_at: "{ago(46)}"
    completed_at: {ago(45)}
    employers:
      - {{access_token: tok-old, completed_at: "{ago(44)}", status_style: sent_with_last_task}}
  - {{order_id: "gone", forbidden: true}}
  - {{order_id: "done", finalized: true, finalize_at_refresh: 1}}
  - {{order_id: "late", created_at: "{ago(2)}", expired: "{ago(1)}"}}
  - {{order_id: "later", created_at: "{ago(5)}", expired: "{ago(1)}"}}
  - order_id: "cut"
    employers: [{{link_deleted: true}}]
"""
    )
    sandbox = load_scenario_file(path, clock=FixedClock(T0)).sandbox
    assert (sandbox.refresh_limit_status, sandbox.finalize_at_refresh) == (429, 2)
    old = sandbox.order("old")
    assert (old["created_at"], old["employers"][0]["status"]) == (ago(46), "sent")
    assert old["employers"][0]["last_task_status"] == "done"
    # The order-level date follows the data, whatever the suborder's status reads.
    assert old["completed_at"] == ago(44)
    assert sandbox.oldest_completed_at()["old"] == ago(44)
    late = sandbox.order("late")
    assert (late["is_expired"], late["expired_at"]) == (True, ago(1))  # earlier than its 72 h
    # A seeded expiry never makes the invitation last longer than its 72 h.
    assert sandbox.order("later")["expired_at"] == ago(2)
    link_id = sandbox.order("cut")["employers"][0]["link_id"]
    assert sandbox.link(link_id)["deleted_at"] == iso(T0)
    assert sandbox.due_webhooks() == []  # seeded states send no webhooks
    with make_client(sandbox) as client:
        assert client.get("orders/gone/").json() == FORBIDDEN
        for order_id, reason in [("done", "order_finalized"), ("cut", "link_deleted")]:
            response = client.post(f"orders/{order_id}/", json={"products": ["income"]})
            assert response.status_code == 400, order_id
            assert sandbox.journal()[-1]["refused"] == reason
        # An expired invitation refuses no refresh.
        assert client.post("orders/late/", json={"products": ["income"]}).status_code == 200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("settings: {refresh_limit_status: 401}", "settings.refresh_limit_status: expected one of 400, 403, 429"),
        ("settings: {refresh_limit_status: '429'}", "settings.refresh_limit_status: expected 400, 403 or 429"),
        ("settings: {finalize_at_refresh: 0}", "settings.finalize_at_refresh"),
        ("orders: [{finalized: 3}]", r"orders\[0\]\.finalized"),
        ("orders: [{completed_at: 3}]", r"orders\[0\]\.completed_at"),
        ("orders: [{employers: [{link_deleted: 'yes'}]}]", r"orders\[0\]\.employers\[0\]\.link_deleted"),
        ("portfolio: {n: 3, stale_share: 2}", "portfolio.stale_share"),
        ("portfolio: {n: 3, stale_share: 0.5, fresh_age_days: 50}", "portfolio.expected 0 <= fresh_age_days"),
        ("portfolio: {n: 3, include_data_as_of: 1}", "portfolio.include_data_as_of"),
    ],
)
def test_scenario_file_errors_for_new_keys(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ValueError, match=f"bad.yaml: {message}"):
        load_scenario_file(path, clock=FixedClock(T0))


# ---- generated portfolios with a known stale share ---------------------------------------


def test_portfolio_with_a_known_stale_share(clock: FixedClock) -> None:
    sandbox = Sandbox(seed=4, clock=clock)
    rows = generate_portfolio(sandbox, 200, seed=3, stale_share=0.1, stale_age_days=45, fresh_age_days=5)
    assert all("data_as_of" not in row for row in rows)
    stale = rows.stale_loan_ids(30, clock.now())
    assert len(stale) == 20
    assert rows.stale_loan_ids(46.01, clock.now()) == set()
    assert len(rows.stale_loan_ids(5.01, clock.now())) == 20
    truth = sandbox.oldest_completed_at()
    for row in rows:
        order = sandbox.order(row["order_id"])
        assert truth[row["order_id"]] == rows.truth_completed_at[row["loan_id"]]
        assert order["completed_at"] == rows.truth_completed_at[row["loan_id"]]
        assert order["created_at"] < rows.truth_completed_at[row["loan_id"]]
    again = generate_portfolio(Sandbox(seed=4, clock=FixedClock(T0)), 200, seed=3, stale_share=0.1)
    assert again == rows and again.truth_completed_at == rows.truth_completed_at


def test_portfolio_data_as_of_only_when_asked(clock: FixedClock) -> None:
    sandbox = Sandbox(seed=1, clock=clock)
    rows = generate_portfolio(sandbox, 10, seed=1, stale_share=0.5, include_data_as_of=True)
    assert list(rows[0]) == ["loan_id", "order_id", "gse", "status", "closing_date", "data_as_of", "program"]
    assert [r["data_as_of"] for r in rows] == [rows.truth_completed_at[r["loan_id"]] for r in rows]
    assert len(rows.stale_loan_ids(44, clock.now())) == 5
    with pytest.raises(ValueError, match="stale_share"):
        generate_portfolio(sandbox, 10, seed=1, stale_share=-0.1)


def test_scenario_portfolio_keys(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("portfolio: {n: 30, seed: 2, stale_share: 0.2, stale_age_days: 60, fresh_age_days: 1}\n")
    loaded = load_scenario_file(path, clock=FixedClock(T0))
    assert len(loaded.loans) == 30
    assert len(loaded.loans.stale_loan_ids(59, T0)) == 6


# ---- mixed orders, report ids ------------------------------------------------------------


def test_mixed_income_and_assets_order(sandbox: Sandbox, clock: FixedClock, refresh: Refresh) -> None:
    root = sandbox.add_order(
        products=("income", "assets"),
        employers=[EmployerSpec(access_token="tok-job")],
        financial_accounts=[EmployerSpec(access_token="tok-bank", company="Bank")],
    )
    assert (len(root["employers"]), len(root["financial_accounts"])) == (1, 1)
    assert root["voie_report_id"] and root["voa_report_id"]
    for _ in range(3):
        income = refresh(root["id"], "income").json()
        assert (len(income["employers"]), income["financial_accounts"]) == (1, [])
    assert refresh(root["id"], "employment").json()["error"]["message"] == "Refresh limit for the access_token exceeded"
    # The bank's token was never spent.
    for _ in range(3):
        assets = refresh(root["id"], "assets")
        assert assets.status_code == 200
        assert (assets.json()["employers"], len(assets.json()["financial_accounts"])) == ([], 1)
    assert refresh(root["id"], "assets").status_code == 400
    assert refresh(root["id"], "transactions").status_code == 400  # a mixed order has no transactions product


def test_report_ids(sandbox: Sandbox, clock: FixedClock, client: httpx.Client, refresh: Refresh) -> None:
    income = sandbox.add_order(products=("income",))
    employment = sandbox.add_order(products=("employment",))
    assets = sandbox.add_order(products=("assets",), employers=[], financial_accounts=[EmployerSpec()])
    transactions = sandbox.add_order(products=("transactions",), employers=[], financial_accounts=[EmployerSpec()])
    assert income["voie_report_id"] and income["voa_report_id"] is None
    assert employment["voie_report_id"] and employment["voa_report_id"] is None
    assert assets["voa_report_id"] and assets["voie_report_id"] is None
    assert assets["employers"] == []  # employers=[] means none
    assert (transactions["voie_report_id"], transactions["voa_report_id"]) == (None, None)
    child = refresh(income["id"], "employment").json()
    assert child["voie_report_id"] is None  # no data yet
    clock.advance(5)
    done = client.get(f"orders/{child['id']}/").json()
    assert done["voie_report_id"] not in (None, income["voie_report_id"])
    assert done["voa_report_id"] is None
    assert client.get(f"orders/{income['id']}/").json()["voie_report_id"] == income["voie_report_id"]
    second = refresh(income["id"]).json()
    clock.advance(5)
    assert sandbox.order(second["id"])["voie_report_id"] not in (done["voie_report_id"], income["voie_report_id"])
    asset_child = refresh(assets["id"], "assets").json()
    clock.advance(5)
    assert sandbox.order(asset_child["id"])["voa_report_id"] not in (None, assets["voa_report_id"])


def test_failed_refresh_has_no_report_id(sandbox: Sandbox, clock: FixedClock, refresh: Refresh) -> None:
    root = sandbox.add_order(employers=[EmployerSpec(scenario="login_error")])
    child = refresh(root["id"]).json()
    clock.advance(5)
    assert sandbox.order(child["id"])["voie_report_id"] is None


def test_report_ids_are_deterministic_and_change_no_other_id() -> None:
    def run(seed: int) -> list[str | None]:
        clock = FixedClock(T0)
        sandbox = Sandbox(seed=seed, clock=clock)
        root = sandbox.add_order(products=("income", "assets"), financial_accounts=[EmployerSpec()])
        with make_client(sandbox) as client:
            child = client.post(f"orders/{root['id']}/", json={"products": ["income"]}).json()
        clock.advance(5)
        child = sandbox.order(child["id"])
        return [root["id"], root["voie_report_id"], root["voa_report_id"], child["id"], child["voie_report_id"]]

    assert run(1) == run(1)
    assert run(1) != run(2)

    def ids(products: tuple[str, ...]) -> list[str]:
        order = Sandbox(seed=1, clock=FixedClock(T0)).add_order(products=products)
        return [order["id"], order["user_id"], *order["employers"][0].values()]

    # Report ids come from their own RNG: an order with one has the same other ids as one without.
    assert ids(("income",)) == ids(("insurance",))


# ---- suborder status style ---------------------------------------------------------------


@pytest.mark.parametrize(("scenario", "final"), [("ok", "done"), ("login_error", "login_error")])
def test_sent_with_last_task_style(
    sandbox: Sandbox, clock: FixedClock, client: httpx.Client, refresh: Refresh, scenario: str, final: str
) -> None:
    spec = {"status_style": "sent_with_last_task", "scenario": scenario}
    root = sandbox.add_order(products=("assets",), employers=[], financial_accounts=[spec], completed_at=ago(40))
    child = refresh(root["id"], "assets").json()
    [account] = child["financial_accounts"]
    assert (account["status"], account["last_task_status"], child["completed_at"]) == ("sent", None, None)
    clock.advance(5)
    body = client.get(f"orders/{child['id']}/").json()
    [account] = body["financial_accounts"]
    assert (account["status"], account["last_task_status"]) == ("sent", final)
    assert "completed_at" not in account
    # The order-level date follows the task, not the suborder's `sent`.
    assert body["completed_at"] == (iso(T0 + timedelta(seconds=5)) if final == "done" else None)
    expected = iso(T0 + timedelta(seconds=5)) if final == "done" else ago(40)
    assert sandbox.data_as_of(root["id"]) == expected


# ---- per-token refusal status ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"), [(400, "incorrect_parameters"), (403, "not_authenticated"), (429, "throttled")]
)
def test_refresh_limit_status(clock: FixedClock, status: int, code: str) -> None:
    sandbox = Sandbox(clock=clock, refresh_limit_status=status)
    root = sandbox.add_order()
    with make_client(sandbox) as client:
        answers = [client.post(f"orders/{root['id']}/", json={"products": ["income"]}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, status]
    assert answers[-1].json() == {"error": {"code": code, "message": "Refresh limit for the access_token exceeded"}}
    assert "retry-after" not in answers[-1].headers
    assert sandbox.journal()[-1]["refused"] == "refresh_limit"
    assert sandbox.refusal_counts() == {"refresh_limit": 1}


def test_refresh_limit_status_is_checked(clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="refresh_limit_status"):
        Sandbox(clock=clock, refresh_limit_status=500)
    with pytest.raises(InputError, match="--refresh-limit-status"):
        serve_sandbox(
            host="127.0.0.1",
            port=0,
            seed=0,
            scenario=None,
            generate=0,
            loans_out=None,
            latency=0.0,
            rpm=300,
            completion_delay=0.0,
            faults=None,
            journal=None,
            refresh_limit_status=418,
        )


# ---- 403 on one resource -----------------------------------------------------------------


def test_forbidden_order_and_its_refresh_orders(sandbox: Sandbox, client: httpx.Client, refresh: Refresh) -> None:
    root = sandbox.add_order()
    child = refresh(root["id"]).json()
    other = sandbox.add_order()
    sandbox.forbid_order(root["id"])
    for response in (
        client.get(f"orders/{root['id']}/"),
        client.get(f"orders/{child['id']}/"),
        refresh(root["id"]),
        refresh(child["id"]),
        client.post(f"orders/{root['id']}/", content=b"not json", headers={"Content-Type": "text/plain"}),
    ):
        assert (response.status_code, response.json()) == (403, FORBIDDEN)
    assert client.get(f"orders/{other['id']}/").status_code == 200
    assert client.get(f"links/{root['employers'][0]['link_id']}/").status_code == 200
    assert [e.get("refused") for e in sandbox.journal()[-7:-2]] == ["forbidden"] * 5
    assert len(sandbox.refreshes()) == 1
    assert sandbox.order(root["id"])["id"] == root["id"]  # inspection is not an API request
    sandbox.forbid_order(root["id"], False)
    assert client.get(f"orders/{child['id']}/").status_code == 200


def test_forbidden_seeded_order(sandbox: Sandbox, client: httpx.Client) -> None:
    root = sandbox.add_order(forbidden=True)
    assert client.get(f"orders/{root['id']}/").json() == FORBIDDEN
    with pytest.raises(ValueError, match="forbidden"):
        sandbox.add_order(forbidden="yes")  # type: ignore[arg-type]


# ---- finalized, expired, deleted ---------------------------------------------------------


def test_finalize_order(sandbox: Sandbox, clock: FixedClock, client: httpx.Client, refresh: Refresh) -> None:
    root = sandbox.add_order(order_number="LOAN-F")
    child = refresh(root["id"]).json()
    clock.advance(60)
    sandbox.due_webhooks()
    sandbox.finalize_order(root["id"])
    [event] = [w.event for w in sandbox.due_webhooks()]
    # Only the common and order fields: employer_id, link_id, product, data_source and status
    # appear only in order-created, order-status-updated and order-refresh-failed (orders/events).
    assert set(event) == ORDER_EVENT - {"employer_id", "link_id", "product", "data_source", "status"}
    assert event["event_type"] == "order-finalized"
    assert (event["order_id"], event["order_number"], event["user_id"]) == (root["id"], "LOAN-F", root["user_id"])
    assert event["updated_at"] == "2024-06-03T09:01:00+00:00"
    refused = refresh(root["id"])
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "incorrect_parameters"
    assert "order is finalized" in refused.json()["error"]["message"]
    assert sandbox.journal()[-1]["refused"] == "order_finalized"
    assert client.get(f"orders/{root['id']}/").status_code == 200
    assert client.get(f"orders/{child['id']}/").json()["employers"][0]["status"] == "completed"
    sandbox.finalize_order(root["id"])  # idempotent
    assert sandbox.due_webhooks() == []


@pytest.mark.parametrize("per_order", [True, False])
def test_finalize_at_refresh(clock: FixedClock, per_order: bool) -> None:
    sandbox = Sandbox(clock=clock, finalize_at_refresh=None if per_order else 2)
    root = sandbox.add_order(finalize_at_refresh=2 if per_order else None)
    with make_client(sandbox) as client:
        statuses = [client.post(f"orders/{root['id']}/", json={"products": ["income"]}).status_code for _ in range(3)]
    assert statuses == [200, 200, 400]
    clock.advance(5)
    events = [w.event_type for w in sandbox.due_webhooks()]
    assert events[0] == "order-finalized"  # at the second refresh's creation, before its tasks end
    assert events.count("order-status-updated") == 2  # the second refresh still completes
    assert sandbox.refusal_counts() == {"order_finalized": 1}


def test_expire_order(sandbox: Sandbox, clock: FixedClock, client: httpx.Client, refresh: Refresh) -> None:
    root = sandbox.add_order()
    # "Date and time when order would expire": 72 h after creation, shown before it passes.
    assert (root["is_expired"], root["expired_at"], root["canceled_at"]) == (False, "2024-06-06T09:00:00Z", None)
    clock.advance(90)
    sandbox.expire_order(root["id"])  # the invitation expired earlier than its 72 h
    body = client.get(f"orders/{root['id']}/").json()
    assert (body["is_expired"], body["expired_at"], body["updated_at"]) == (
        True,
        "2024-06-03T09:01:30Z",
        body["expired_at"],
    )
    assert body["employers"][0]["status"] == "completed"
    assert body["completed_at"] == "2024-06-03T09:00:00Z"  # the data is not the invitation
    # An expired invitation refuses no refresh: the refresh order is made as usual.
    made = refresh(root["id"])
    assert made.status_code == 200
    assert "refused" not in sandbox.journal()[-1]
    assert made.json()["expired_at"] == "2024-06-06T09:01:30Z"  # its own invitation: 72 h
    sandbox.expire_order(root["id"])  # idempotent: keeps its moment
    assert sandbox.order(root["id"])["expired_at"] == "2024-06-03T09:01:30Z"
    assert sandbox.due_webhooks() == []


def test_invitation_expires_72_hours_after_creation_whatever_the_status(sandbox: Sandbox, clock: FixedClock) -> None:
    root = sandbox.add_order()
    clock.advance(72 * 3600 - 1)
    assert sandbox.order(root["id"])["is_expired"] is False
    clock.advance(1)
    body = sandbox.order(root["id"])
    assert (body["is_expired"], body["expired_at"], body["updated_at"]) == (True, iso(clock.now()), iso(clock.now()))
    # A completed and refreshed order with an expired invitation, as in Truv's orders_read example.
    with make_client(sandbox) as client:
        child = client.post(f"orders/{root['id']}/", json={"products": ["income"]}).json()
    clock.advance(5)
    body = sandbox.order(root["id"])
    assert (body["is_expired"], body["refresh_order"], body["completed_at"]) == (True, child["id"], iso(T0))
    assert sandbox.order(child["id"])["is_expired"] is False


def test_delete_link(sandbox: Sandbox, clock: FixedClock, client: httpx.Client, refresh: Refresh) -> None:
    root = sandbox.add_order(employers=[EmployerSpec(access_token="tok-cut"), EmployerSpec(access_token="tok-ok")])
    cut, kept = root["employers"]
    refresh(root["id"], "employment")
    clock.advance(10)
    sandbox.due_webhooks()
    sandbox.delete_link(cut["link_id"])
    [event] = [w.event for w in sandbox.due_webhooks()]
    assert event["event_type"] == "link-deleted"
    assert set(event) == {
        "webhook_id",
        "event_type",
        "event_created_at",
        "user_id",
        "template_id",
        "link_id",
        "product",
        "data_source",
        "tracking_info",
    }  # no updated_at: Truv documents none for Account Link events
    assert (event["link_id"], event["product"], event["data_source"], event["tracking_info"]) == (
        cut["link_id"],
        "employment",
        "payroll",
        None,
    )
    link = client.get(f"links/{cut['link_id']}/")
    assert (link.status_code, link.json()["deleted_at"]) == (200, "2024-06-03T09:00:10Z")
    assert client.get(f"links/{kept['link_id']}/").json()["deleted_at"] is None
    refused = refresh(root["id"])
    assert refused.status_code == 400
    assert cut["link_id"] in refused.json()["error"]["message"]
    assert sandbox.journal()[-1]["refused"] == "link_deleted"
    assert refresh(root["id"], employers=[{"id": kept["id"]}]).status_code == 200
    shown = client.get(f"orders/{root['id']}/").json()["employers"]
    assert [(e["id"], e["link_id"], e["access_token"]) for e in shown] == [
        (cut["id"], cut["link_id"], "tok-cut"),
        (kept["id"], kept["link_id"], "tok-ok"),
    ]
    with pytest.raises(ValueError, match="deleted"):
        sandbox.reconnect_link(cut["link_id"])
    bridge = client.post(f"users/{root['user_id']}/tokens/", json={"product_type": "income", "access_token": "tok-cut"})
    assert bridge.status_code == 400
    sandbox.delete_link(cut["link_id"])  # idempotent
    assert sandbox.due_webhooks() == []


def test_admin_lifecycle_endpoints(clock: FixedClock) -> None:
    sandbox = Sandbox(clock=clock)
    with httpx.Client(base_url="http://sandbox", transport=SandboxTransport(sandbox)) as admin:
        order = admin.post("/_sandbox/orders/", json={"completed_at": ago(45)}).json()
        link_id = order["employers"][0]["link_id"]
        assert admin.get("/_sandbox/data-dates/").json() == {order["id"]: ago(45)}
        assert admin.post(f"/_sandbox/orders/{order['id']}/expire/").json()["is_expired"] is True
        assert admin.post(f"/_sandbox/orders/{order['id']}/finalize/").status_code == 200
        assert admin.post(f"/_sandbox/links/{link_id}/delete/").json()["deleted_at"] == iso(T0)
        assert admin.post(f"/_sandbox/orders/{order['id']}/forbid/").status_code == 200
        assert admin.post(f"/_sandbox/orders/{order['id']}/forbid/", json={"forbidden": "no"}).status_code == 400
        assert admin.post("/_sandbox/orders/nope/finalize/").status_code == 404
        assert admin.post("/_sandbox/links/nope/delete/").status_code == 404
        with make_client(sandbox) as client:
            assert client.get(f"orders/{order['id']}/").status_code == 403
        assert admin.get("/_sandbox/refusals/").json() == {"forbidden": 1}
        assert admin.post(f"/_sandbox/orders/{order['id']}/forbid/", json={"forbidden": False}).status_code == 200
        with make_client(sandbox) as client:
            assert client.get(f"orders/{order['id']}/").status_code == 200
    assert [w.event_type for w in sandbox.due_webhooks()] == ["order-finalized", "link-deleted"]
