"""Link income / employment reports (truv-api.md section 9) and scripted changes of their data."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.clock import FixedClock
from monitor.sandbox import EmployerSpec, Sandbox, SandboxTransport
from monitor.sandbox.employer_changes import CHANGE_KINDS, INCOME_ONLY_KINDS, EmployerChange
from monitor.sandbox.scenario import generate_portfolio, load_scenario_file
from tests.sandbox.conftest import AUTH, T0, make_client

DAY = 86400.0
EMPLOYMENT_KEYS = {
    "id",
    "is_active",
    "start_date",
    "end_date",
    "original_hire_date",
    "company",
    "job_title",
    "job_type",
    "income",
    "income_unit",
    "pay_rate",
    "pay_frequency",
    "derived_fields",
    "missing_data_fields",
}
STATEMENT_KEYS = {
    "id",
    "pay_date",
    "period_start",
    "period_end",
    "gross_pay",
    "gross_pay_ytd",
    "net_pay",
    "net_pay_ytd",
    "regular",
    "hours",
    "basis_of_pay",
    "earnings",
}


def money(text: str) -> Decimal:
    assert isinstance(text, str) and text == f"{Decimal(text):.2f}", text
    return Decimal(text)


def day(text: str) -> date:
    return date.fromisoformat(text)


def report(client: httpx.Client, link_id: str, product: str = "income") -> dict[str, Any]:
    response = client.get(f"links/{link_id}/{product}/report/")
    assert response.status_code == 200, response.text
    return response.json()


def refresh_and_wait(client: httpx.Client, clock: FixedClock, order_id: str, product: str = "income") -> dict:
    response = client.post(f"orders/{order_id}/", json={"products": [product]})
    assert response.status_code == 200, response.text
    clock.advance(5)
    return response.json()


def sandbox_for_months(clock: FixedClock, seed: int = 7) -> Sandbox:
    """Monthly refreshes: no per-token limit or request pace in the way."""
    return Sandbox(seed=seed, clock=clock, refresh_limit_per_token=100, requests_per_minute=100_000)


def one_employer(sandbox: Sandbox, **spec: Any) -> tuple[dict, str]:
    order = sandbox.add_order(employers=[{"company": "Acme Logistics", **spec}])
    return order, order["employers"][0]["link_id"]


def fields(employment: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in employment.items() if k != "statements"}


# ---- 1. the endpoints ------------------------------------------------------------------------


def test_income_report_shape(sandbox: Sandbox, client: httpx.Client) -> None:
    order, link_id = one_employer(sandbox)
    body = report(client, link_id)
    assert set(body) >= {"id", "status", "completed_at", "finished_at", "access_token", "employments"}
    assert len(body["id"]) == 32 and int(body["id"], 16) >= 0
    seeded = "2024-06-03T09:00:00Z"
    assert (body["status"], body["completed_at"], body["finished_at"]) == ("done", seeded, seeded)
    # Truv returns the full token here (the Link object masks it).
    assert body["access_token"] == order["employers"][0]["access_token"]
    (employment,) = body["employments"]
    assert set(employment) == EMPLOYMENT_KEYS | {"statements"}
    assert employment["is_active"] is True and employment["end_date"] is None
    assert employment["job_type"] == "F" and employment["income_unit"] == "YEARLY"
    assert employment["pay_frequency"] == "BW"
    assert employment["derived_fields"] == [] and employment["missing_data_fields"] == []
    assert employment["original_hire_date"] == employment["start_date"] < "2023-05-01"
    company = employment["company"]
    assert company["name"] == "Acme Logistics"
    assert set(company) == {"name", "address", "phone", "ein"}
    assert set(company["address"]) == {"street", "city", "state", "zip"}
    assert len(company["ein"]) == 10 and company["ein"][2] == "-" and len(company["phone"]) == 10
    income = money(employment["income"])
    assert 40_000 <= income <= 150_000
    assert money(employment["pay_rate"]) == (income / 26).quantize(Decimal("0.01"))

    stubs = employment["statements"]
    assert len(stubs) == 6
    dates = [day(s["pay_date"]) for s in stubs]
    assert dates == sorted(dates, reverse=True)
    assert all(a - b == timedelta(days=14) for a, b in pairwise(dates))
    assert date(2024, 6, 3) - timedelta(days=14) < dates[0] <= date(2024, 6, 3)
    for stub in stubs:
        assert set(stub) == STATEMENT_KEYS
        assert money(stub["gross_pay"]) == money(stub["regular"]) == money(employment["pay_rate"])
        assert Decimal(0) < money(stub["net_pay"]) < money(stub["gross_pay"])
        assert (stub["hours"], stub["basis_of_pay"]) == ("80.00", "S")
        assert day(stub["period_start"]) < day(stub["period_end"]) < day(stub["pay_date"])
        assert (day(stub["period_end"]) - day(stub["period_start"])).days == 13
    assert len({s["id"] for s in stubs}) == 6
    # Year to date: each stub adds its own pay, within one calendar year.
    for newer, older in pairwise(stubs):
        if newer["pay_date"][:4] == older["pay_date"][:4]:
            assert money(newer["gross_pay_ytd"]) - money(older["gross_pay_ytd"]) == money(newer["gross_pay"])
            assert money(newer["net_pay_ytd"]) - money(older["net_pay_ytd"]) == money(newer["net_pay"])


def test_employment_report_has_no_pay(sandbox: Sandbox, client: httpx.Client) -> None:
    _, link_id = one_employer(sandbox)
    income = report(client, link_id)
    voe = report(client, link_id, "employment")
    assert voe["id"] != income["id"]
    (employment,) = voe["employments"]
    assert "statements" not in employment
    assert set(employment) == EMPLOYMENT_KEYS
    pay = ("income", "income_unit", "pay_rate", "pay_frequency")
    assert [employment[k] for k in pay] == [None] * 4
    same = {k: v for k, v in fields(income["employments"][0]).items() if k not in pay}
    assert {k: v for k, v in employment.items() if k not in pay} == same


def test_reports_are_api_requests(sandbox: Sandbox, client: httpx.Client) -> None:
    _, link_id = one_employer(sandbox)
    report(client, link_id)
    report(client, link_id, "employment")
    journal = sandbox.journal()
    assert [(e["method"], e["path"], e["status"]) for e in journal] == [
        ("GET", f"/v1/links/{link_id}/income/report/", 200),
        ("GET", f"/v1/links/{link_id}/employment/report/", 200),
    ]
    assert client.get("links/nope/income/report/").json() == {"detail": "Not Found."}
    assert client.get("links/nope/income/report/").status_code == 404
    assert client.get(f"links/{link_id}/income/report").status_code == 404  # no trailing slash
    assert client.get(f"links/{link_id}/assets/report/").status_code == 404
    assert client.post(f"links/{link_id}/income/report/").status_code == 405
    with make_client(sandbox, headers={}) as anonymous:
        assert anonymous.get(f"links/{link_id}/income/report/").status_code == 401
    with make_client(sandbox, headers={**AUTH, "Accept": "text/html"}) as html:
        assert html.get(f"links/{link_id}/income/report/").status_code == 406
    statuses = [e["status"] for e in sandbox.journal()]
    assert statuses == [200, 200, 404, 404, 404, 404, 405, 401, 406]  # every API request is journaled


def test_deleted_forbidden_and_bank_links(sandbox: Sandbox, client: httpx.Client) -> None:
    _, gone = one_employer(sandbox)
    sandbox.delete_link(gone)
    assert client.get(f"links/{gone}/income/report/").status_code == 404
    assert client.get(f"links/{gone}/employment/report/").json() == {"detail": "Not Found."}
    seeded_gone = sandbox.add_order(employers=[{"link_deleted": True}])["employers"][0]["link_id"]
    assert client.get(f"links/{seeded_gone}/income/report/").status_code == 404

    forbidden = sandbox.add_order(forbidden=True)
    assert client.get(f"orders/{forbidden['id']}/").status_code == 403
    assert report(client, forbidden["employers"][0]["link_id"])["employments"]

    bank = sandbox.add_order(products=("assets",), employers=[], financial_accounts=[EmployerSpec()])
    assert client.get(f"links/{bank['financial_accounts'][0]['link_id']}/income/report/").status_code == 404
    with pytest.raises(KeyError):
        sandbox.link_report(gone)
    with pytest.raises(ValueError, match="product"):
        sandbox.link_report(forbidden["employers"][0]["link_id"], "assets")


def test_report_json_matches_the_helper(sandbox: Sandbox, client: httpx.Client) -> None:
    _, link_id = one_employer(sandbox)
    assert report(client, link_id) == sandbox.link_report(link_id)
    assert report(client, link_id, "employment") == sandbox.link_report(link_id, "employment")


# ---- determinism -----------------------------------------------------------------------------


def run_script(seed: int, read_reports: bool) -> tuple[list[Any], list[Any]]:
    clock = FixedClock(T0)
    sandbox = sandbox_for_months(clock, seed)
    orders = [sandbox.add_order(employers=[{}, {}]) for _ in range(3)]
    reports: list[Any] = []
    ids: list[Any] = [o["id"] for o in orders]
    with make_client(sandbox) as client:
        for _ in range(2):
            clock.advance(30 * DAY)
            for order in orders:
                ids.append(refresh_and_wait(client, clock, order["id"])["id"])
                if read_reports:
                    reports += [report(client, e["link_id"]) for e in order["employers"]]
        ids += [w.webhook_id for w in sandbox.due_webhooks()]
    return ids, reports


def test_reports_are_deterministic_and_draw_no_api_ids() -> None:
    ids, reports = run_script(3, read_reports=True)
    again_ids, again_reports = run_script(3, read_reports=True)
    assert (ids, reports) == (again_ids, again_reports)
    # Reading reports changes no order id and no webhook id.
    assert run_script(3, read_reports=False)[0] == ids
    other = run_script(4, read_reports=True)[1]
    assert [r["employments"][0]["income"] for r in other] != [r["employments"][0]["income"] for r in reports]


def test_income_range_over_many_links(clock: FixedClock) -> None:
    sandbox = Sandbox(seed=1, clock=clock)
    orders = [sandbox.add_order() for _ in range(150)]
    incomes = [money(sandbox.link_report(o["employers"][0]["link_id"])["employments"][0]["income"]) for o in orders]
    assert min(incomes) >= 40_000 and max(incomes) <= 150_000
    assert len(set(incomes)) > 50


def test_report_id_per_data_version(clock: FixedClock) -> None:
    sandbox = sandbox_for_months(clock)
    order, link_id = one_employer(sandbox)
    with make_client(sandbox) as client:
        first = report(client, link_id)
        assert report(client, link_id)["id"] == first["id"]
        clock.advance(30 * DAY)
        client.post(f"orders/{order['id']}/", json={"products": ["income"]})
        assert report(client, link_id) == first  # the refresh is still running: the old data
        clock.advance(5)
        second = report(client, link_id)
    assert second["id"] != first["id"]
    assert second["completed_at"] == second["finished_at"] == "2024-07-03T09:00:05Z"


# ---- the data follows refreshes ------------------------------------------------------------


def test_refreshes_bring_new_pay_dates(clock: FixedClock) -> None:
    sandbox = sandbox_for_months(clock)
    order, link_id = one_employer(sandbox)
    with make_client(sandbox) as client:
        before = report(client, link_id)["employments"][0]
        latest = [day(before["statements"][0]["pay_date"])]
        for _ in range(3):
            clock.advance(30 * DAY)
            refresh_and_wait(client, clock, order["id"])
            body = report(client, link_id)
            (after,) = body["employments"]
            assert fields(after) == fields(before)
            newest = day(after["statements"][0]["pay_date"])
            completed = day(body["completed_at"][:10])
            assert newest > latest[-1] and completed - timedelta(days=14) < newest <= completed
            latest.append(newest)


def test_failed_refresh_keeps_the_previous_data(clock: FixedClock) -> None:
    sandbox = sandbox_for_months(clock)
    order, link_id = one_employer(sandbox, scenario="flaky")
    with make_client(sandbox) as client:
        seeded = report(client, link_id)
        clock.advance(30 * DAY)
        refresh_and_wait(client, clock, order["id"])
        failed = report(client, link_id)
        assert failed["status"] == "unavailable"
        assert failed["finished_at"] == "2024-07-03T09:00:05Z"
        assert (failed["completed_at"], failed["employments"], failed["id"]) == (
            seeded["completed_at"],
            seeded["employments"],
            seeded["id"],
        )
        clock.advance(30 * DAY)
        refresh_and_wait(client, clock, order["id"])
        ok = report(client, link_id)
    assert ok["status"] == "done" and ok["completed_at"] == "2024-08-02T09:00:10Z"
    assert ok["employments"][0]["statements"][0]["pay_date"] > seeded["employments"][0]["statements"][0]["pay_date"]


def test_webhooks_carry_the_report_ids_and_stub_counts(clock: FixedClock) -> None:
    sandbox = sandbox_for_months(clock)
    order, link_id = one_employer(sandbox)
    with make_client(sandbox) as client:
        previous = report(client, link_id)["employments"][0]
        clock.advance(2)
        refresh_and_wait(client, clock, order["id"])
        quick = sandbox.due_webhooks()
        # Seconds later: no new stub, so no statements-updated.
        assert [w.event_type for w in quick][-1] == "employment-updated"
        assert "statements-updated" not in [w.event_type for w in quick]
        clock.advance(45 * DAY)
        refresh_and_wait(client, clock, order["id"])
        current = report(client, link_id)["employments"][0]
    batch = sandbox.due_webhooks()
    events = {w.event_type: w.event for w in batch}
    assert [w.event_type for w in batch][-2:] == ["employment-updated", "statements-updated"]
    assert events["employment-updated"]["employment_id"] == current["id"] == previous["id"]
    assert quick[-1].event["employment_id"] == current["id"]
    assert events["employment-updated"]["objects_count"] == 1  # the link's employments
    new_stubs = [s for s in current["statements"] if s["pay_date"] > previous["statements"][0]["pay_date"]]
    assert len(new_stubs) == 3  # 45 days of bi-weekly pay
    assert events["statements-updated"]["employment_id"] == current["id"]
    assert events["statements-updated"]["objects_count"] == 26 + 3  # a year of stubs at seeding, then 3 more
    assert events["statements-updated"]["task_id"] == events["employment-updated"]["task_id"]


# ---- 2. scripted changes ---------------------------------------------------------------------


def two_refreshes(clock: FixedClock, changes: Any, spacing_days: float = 30, **spec: Any) -> tuple[dict, dict, dict]:
    """Seed one employer with `changes`, refresh twice `spacing_days` apart; the reports after each."""
    sandbox = sandbox_for_months(clock)
    order, link_id = one_employer(sandbox, changes=changes, **spec)
    with make_client(sandbox) as client:
        clock.advance(spacing_days * DAY)
        refresh_and_wait(client, clock, order["id"])
        first = report(client, link_id)
        clock.advance(spacing_days * DAY)
        refresh_and_wait(client, clock, order["id"])
        second = report(client, link_id)
    return first, second, {"sandbox": sandbox, "link_id": link_id, "order": order}


def test_job_loss(clock: FixedClock) -> None:
    first, second, _ = two_refreshes(clock, {"at_refresh": 2, "job_loss": True})
    (before,), (after,) = first["employments"], second["employments"]
    assert before["is_active"] is True and before["end_date"] is None
    assert after["id"] == before["id"] and after["is_active"] is False
    refreshed_on = day(second["completed_at"][:10])
    assert after["end_date"] == (refreshed_on - timedelta(days=1)).isoformat()
    assert after["derived_fields"] == []
    assert all(s["pay_date"] <= after["end_date"] for s in after["statements"])
    assert (after["income"], after["pay_rate"]) == (before["income"], before["pay_rate"])


@pytest.mark.parametrize("cut", ["15%", "0.15", 0.15])
def test_pay_cut(clock: FixedClock, cut: Any) -> None:
    first, second, _ = two_refreshes(clock, {"at_refresh": 2, "pay_cut": cut})
    (before,), (after,) = first["employments"], second["employments"]
    assert money(after["income"]) == (money(before["income"]) * Decimal("0.85")).quantize(Decimal("0.01"))
    assert money(after["pay_rate"]) == (money(after["income"]) / 26).quantize(Decimal("0.01"))
    assert after["is_active"] is True and after["pay_frequency"] == "BW"
    changed_on = second["completed_at"][:10]
    for stub in after["statements"]:
        expected = after["pay_rate"] if stub["pay_date"] > changed_on else before["pay_rate"]
        assert stub["gross_pay"] == expected


def test_pay_cut_shows_in_later_stubs(clock: FixedClock) -> None:
    sandbox = sandbox_for_months(clock)
    order, link_id = one_employer(sandbox, changes={"at_refresh": 1, "pay_cut": "20%"})
    with make_client(sandbox) as client:
        before = report(client, link_id)["employments"][0]
        for _ in range(2):
            clock.advance(30 * DAY)
            refresh_and_wait(client, clock, order["id"])
        after = report(client, link_id)["employments"][0]
    newest = after["statements"][0]
    assert money(newest["gross_pay"]) == money(after["pay_rate"]) < money(before["pay_rate"])


def test_employer_change(clock: FixedClock) -> None:
    first, second, ctx = two_refreshes(clock, {"at_refresh": 2, "employer_change": True})
    (before,) = first["employments"]
    old, new = second["employments"]
    refreshed_on = day(second["completed_at"][:10])
    assert old["id"] == before["id"] and old["is_active"] is False
    assert old["end_date"] == (refreshed_on - timedelta(days=1)).isoformat()
    assert new["id"] != old["id"] and new["is_active"] is True and new["end_date"] is None
    assert new["company"]["name"] != old["company"]["name"]
    assert new["company"]["ein"] != old["company"]["ein"]
    assert new["start_date"] == new["original_hire_date"] == refreshed_on.isoformat()
    assert money(new["income"]) >= money(old["income"])
    assert new["statements"] == []  # no pay date yet
    (scripted,) = ctx["sandbox"].scripted_changes()
    assert (scripted["employment_id"], scripted["new_employment_id"]) == (old["id"], new["id"])
    # Later: the new job pays, the old one stays ended.
    sandbox, link_id = ctx["sandbox"], ctx["link_id"]
    with make_client(sandbox) as client:
        clock.advance(30 * DAY)
        refresh_and_wait(client, clock, ctx["order"]["id"])
        old_later, new_later = report(client, link_id)["employments"]
    assert fields(old_later) == fields(old) and old_later["statements"] == old["statements"]
    assert len(new_later["statements"]) == 2 and new_later["statements"][0]["gross_pay"] == new["pay_rate"]


def test_missed_pay(clock: FixedClock) -> None:
    first, second, _ = two_refreshes(clock, {"at_refresh": 2, "missed_pay": True})
    (before,), (after,) = first["employments"], second["employments"]
    assert fields(after) == fields(before)
    assert after["statements"] == before["statements"]  # the latest pay_date stays where it was
    assert day(second["completed_at"][:10]) - day(after["statements"][0]["pay_date"]) > timedelta(days=24)


def test_derived_inactive(clock: FixedClock) -> None:
    first, second, _ = two_refreshes(clock, {"at_refresh": 2, "derived_inactive": True})
    (before,), (after,) = first["employments"], second["employments"]
    assert (after["is_active"], after["end_date"], after["derived_fields"]) == (False, None, ["is_active"])
    assert after["statements"] == before["statements"]


def test_rehire(clock: FixedClock) -> None:
    first, second, _ = two_refreshes(clock, {"at_refresh": 2, "rehire": True})
    (before,) = first["employments"]
    old, new = second["employments"]
    refreshed_on = day(second["completed_at"][:10])
    assert old["id"] == before["id"] and old["is_active"] is False
    assert new["id"] != old["id"] and new["is_active"] is True
    assert new["company"] == old["company"]  # same company and EIN
    assert day(old["end_date"]) < day(new["start_date"]) - timedelta(days=1)  # after a gap
    assert new["start_date"] == (refreshed_on - timedelta(days=1)).isoformat()
    assert new["original_hire_date"] == old["original_hire_date"] == before["original_hire_date"]
    assert (new["income"], new["pay_frequency"], new["job_type"]) == (old["income"], "BW", "F")


def test_job_type_change(clock: FixedClock) -> None:
    first, second, _ = two_refreshes(clock, {"at_refresh": 2, "job_type_change": True})
    (before,), (after,) = first["employments"], second["employments"]
    assert (before["job_type"], after["job_type"]) == ("F", "P")
    assert {**fields(after), "job_type": "F"} == fields(before)


def test_pay_frequency_change(clock: FixedClock) -> None:
    first, second, ctx = two_refreshes(clock, {"at_refresh": 2, "pay_frequency_change": True})
    (before,), (after,) = first["employments"], second["employments"]
    assert (after["pay_frequency"], after["income"]) == ("W", before["income"])
    assert money(after["pay_rate"]) == (money(after["income"]) / 52).quantize(Decimal("0.01"))
    with make_client(ctx["sandbox"]) as client:
        clock.advance(30 * DAY)
        refresh_and_wait(client, clock, ctx["order"]["id"])
        later = report(client, ctx["link_id"])["employments"][0]
    changed_on = second["completed_at"][:10]
    weekly = [day(s["pay_date"]) for s in later["statements"] if s["pay_date"] > changed_on]
    assert len(weekly) >= 4 and all(a - b == timedelta(days=7) for a, b in pairwise(weekly))
    # The last bi-weekly pay date on or before the change starts the weekly lattice.
    last_biweekly = max(day(s["pay_date"]) for s in after["statements"] if s["pay_date"] <= changed_on)
    assert (weekly[-1] - last_biweekly).days % 7 == 0
    assert later["statements"][0]["hours"] == "40.00" and later["statements"][0]["gross_pay"] == after["pay_rate"]


def test_change_waits_for_its_refresh_and_a_failure_defers_it(clock: FixedClock) -> None:
    sandbox = sandbox_for_months(clock)
    order, link_id = one_employer(sandbox, scenario="flaky", changes={"at_refresh": 1, "job_loss": True})
    with make_client(sandbox) as client:
        assert report(client, link_id)["employments"][0]["is_active"] is True
        assert sandbox.scripted_changes()[0]["effective_at"] is None
        clock.advance(30 * DAY)
        refresh_and_wait(client, clock, order["id"])  # refresh 1 fails: still the seeded data
        assert report(client, link_id)["employments"][0]["is_active"] is True
        assert sandbox.scripted_changes()[0]["effective_at"] == "2024-07-03T09:00:05Z"
        clock.advance(30 * DAY)
        refresh_and_wait(client, clock, order["id"])
        after = report(client, link_id)["employments"][0]
    # The borrower lost the job when refresh 1 ran; refresh 2 is the first to see it.
    assert (after["is_active"], after["end_date"]) == (False, "2024-07-02")


def test_two_employers_one_changed(clock: FixedClock) -> None:
    sandbox = sandbox_for_months(clock)
    order = sandbox.add_order(
        employers=[{"company": "Initech", "changes": [{"at_refresh": 2, "job_loss": True}]}, {"company": "Globex Corp"}]
    )
    lost, kept = (e["link_id"] for e in order["employers"])
    seen: dict[str, list[dict]] = {lost: [], kept: []}
    with make_client(sandbox) as client:
        for _ in range(3):
            clock.advance(30 * DAY)
            refresh_and_wait(client, clock, order["id"])
            for link_id in seen:
                seen[link_id] += report(client, link_id)["employments"]
    assert [e["is_active"] for e in seen[lost]] == [True, False, False]
    assert [e["is_active"] for e in seen[kept]] == [True, True, True]
    assert len({json.dumps(fields(e)) for e in seen[kept]}) == 1
    (scripted,) = sandbox.scripted_changes()
    assert (scripted["link_id"], scripted["employment_id"]) == (lost, seen[lost][0]["id"])


def test_two_employers_on_one_link_change_independently(clock: FixedClock) -> None:
    sandbox = sandbox_for_months(clock)
    order = sandbox.add_order(
        employers=[
            {"access_token": "tok-1", "company": "Initech", "changes": {"at_refresh": 1, "pay_cut": "10%"}},
            {"access_token": "tok-1", "company": "Globex Corp"},
        ]
    )
    link_id = order["employers"][0]["link_id"]
    with make_client(sandbox) as client:
        before = report(client, link_id)["employments"]
        clock.advance(30 * DAY)
        refresh_and_wait(client, clock, order["id"])
        after = report(client, link_id)["employments"]
    assert [e["company"]["name"] for e in after] == ["Initech", "Globex Corp"]
    assert money(after[0]["income"]) == money(before[0]["income"]) * Decimal("0.9")
    assert fields(after[1]) == fields(before[1])
    events = [w.event for w in sandbox.due_webhooks() if w.event_type == "employment-updated"]
    assert [e["employment_id"] for e in events] == [e["id"] for e in after]
    assert {e["objects_count"] for e in events} == {2}


def test_several_changes_in_sequence(clock: FixedClock) -> None:
    sandbox = sandbox_for_months(clock)
    changes = [
        {"at_refresh": 3, "rehire": True},
        {"at_refresh": 1, "pay_cut": "15%"},
        {"at_refresh": 2, "job_loss": True},
        {"at_refresh": 4, "job_type_change": True},
    ]
    order, link_id = one_employer(sandbox, changes=changes)
    shown = []
    with make_client(sandbox) as client:
        for _ in range(4):
            clock.advance(30 * DAY)
            refresh_and_wait(client, clock, order["id"])
            shown.append(report(client, link_id)["employments"])
    assert [len(s) for s in shown] == [1, 1, 2, 2]
    assert shown[1][0]["is_active"] is False and shown[2][1]["is_active"] is True
    assert shown[2][1]["income"] == shown[0][0]["income"]  # rehired at the pay they had
    assert (shown[3][1]["job_type"], shown[3][0]["job_type"]) == ("P", "F")
    scripted = sandbox.scripted_changes()
    assert [(c["at_refresh"], c["kind"]) for c in scripted] == [
        (1, "pay_cut"),
        (2, "job_loss"),
        (3, "rehire"),
        (4, "job_type_change"),
    ]
    assert [c["employment_id"] for c in scripted] == [shown[0][0]["id"]] * 3 + [shown[2][1]["id"]]
    assert scripted[2]["new_employment_id"] == shown[2][1]["id"] and scripted[0]["pay_cut"] == "0.15"


def test_employer_change_webhooks(clock: FixedClock) -> None:
    _, second, ctx = two_refreshes(clock, {"at_refresh": 2, "employer_change": True})
    old, new = second["employments"]
    batch = [w.event for w in ctx["sandbox"].due_webhooks() if w.event["updated_at"].startswith("2024-08-02")]
    updates = [(e["event_type"], e["employment_id"], e["objects_count"]) for e in batch if "employment_id" in e]
    assert updates[:2] == [("employment-updated", old["id"], 2), ("employment-updated", new["id"], 2)]
    assert all(kind == "statements-updated" and emp == old["id"] for kind, emp, _ in updates[2:])


def test_changes_leave_every_other_id_alone(clock: FixedClock) -> None:
    def run(changes: Any) -> tuple[list[str], list[tuple[str, str]]]:
        clk = FixedClock(T0)
        sandbox = sandbox_for_months(clk)
        order = sandbox.add_order(employers=[{"changes": changes}, {}])
        ids = [order["id"], *(e["id"] for e in order["employers"])]
        with make_client(sandbox) as client:
            for _ in range(3):
                clk.advance(30 * DAY)
                ids.append(refresh_and_wait(client, clk, order["id"])["id"])
        webhooks = [(w.event_type, w.webhook_id) for w in sandbox.due_webhooks()]
        return ids, webhooks

    plain_ids, plain_webhooks = run(None)
    changed_ids, changed_webhooks = run({"at_refresh": 2, "employer_change": True})
    assert changed_ids == plain_ids
    kept = [w for w in changed_webhooks if w in plain_webhooks]
    assert [w for w in plain_webhooks if w[0] != "statements-updated"] == [
        w for w in kept if w[0] != "statements-updated"
    ]
    assert Counter(t for t, _ in changed_webhooks)["employment-updated"] == 7  # 2 links x 3, + the old job


# ---- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"at_refresh": 2, "job_loss": True, "colour": 1}, r"employers\[0\]\.changes\[0\]: unknown keys \['colour'\]"),
        ({"job_loss": True}, "at_refresh is required"),
        ({"at_refresh": 2}, "exactly one of"),
        ({"at_refresh": 2, "job_loss": True, "rehire": True}, "exactly one of"),
        ({"at_refresh": 0, "job_loss": True}, r"at_refresh: expected a whole number >= 1"),
        ({"at_refresh": True, "job_loss": True}, "at_refresh: expected a whole number"),
        ({"at_refresh": "2", "job_loss": True}, "at_refresh: expected a whole number"),
        ({"at_refresh": 2, "job_loss": False}, r"job_loss: expected true"),
        ({"at_refresh": 2, "pay_cut": 15}, "pay_cut: expected a share"),
        ({"at_refresh": 2, "pay_cut": "150%"}, "pay_cut: expected a share"),
        ({"at_refresh": 2, "pay_cut": True}, "pay_cut: expected a share"),
        ({"at_refresh": 2, "pay_cut": "a lot"}, "pay_cut: expected a share"),
        ("job_loss", "expected a mapping or a list"),
        (["job_loss"], r"changes\[0\]: expected a mapping"),
        ([{"at_refresh": 2, "job_loss": True}, {"at_refresh": 2, "rehire": True}], "two changes at refresh 2"),
        ([{"at_refresh": 2, "job_loss": True}, {"at_refresh": 3, "pay_cut": "5%"}], "only employer_change or rehire"),
        (
            [{"at_refresh": 2, "job_type_change": True}, {"at_refresh": 3, "job_type_change": True}],
            "job_type_change twice",
        ),
    ],
)
def test_bad_changes_are_refused(sandbox: Sandbox, changes: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sandbox.add_order(employers=[{"changes": changes}])
    assert sandbox.scripted_changes() == []


def test_change_shapes_and_where_they_are_accepted(sandbox: Sandbox) -> None:
    spec = EmployerSpec(changes={"at_refresh": 2, "pay_cut": "15%"})
    assert spec.changes == (EmployerChange(2, "pay_cut", Decimal("0.15")),)
    listed = EmployerSpec.from_mapping(
        {"changes": [{"at_refresh": 3, "rehire": True}, {"at_refresh": 1, "job_loss": True}]}
    )
    assert [c.kind for c in listed.changes] == ["job_loss", "rehire"]  # sorted by refresh
    assert listed.changes[0].to_mapping() == {"at_refresh": 1, "job_loss": True}
    assert EmployerSpec(changes=listed.changes) == listed
    assert EmployerSpec().changes == ()
    sandbox.add_order(employers=[spec])
    with pytest.raises(ValueError, match=r"financial_accounts\[0\]\.changes: scripted changes apply to employers only"):
        sandbox.add_order(products=("assets",), employers=[], financial_accounts=[spec])
    with pytest.raises(ValueError, match="unknown kind"):
        EmployerSpec(changes=[EmployerChange(2, "promotion")])


def test_script_changes_after_seeding(clock: FixedClock) -> None:
    sandbox = sandbox_for_months(clock)
    order = sandbox.add_order(employers=[{"access_token": "t"}, {"access_token": "t"}])
    link_id = order["employers"][0]["link_id"]
    with pytest.raises(ValueError, match="has 2 employers; name one"):
        sandbox.script_changes(link_id, {"at_refresh": 1, "job_loss": True})
    number = order["employers"][1]["suborder_number"]
    entries = sandbox.script_changes(link_id, {"at_refresh": 2, "job_loss": True}, suborder_number=number)
    assert [(e["kind"], e["suborder_number"], e["order_id"]) for e in entries] == [("job_loss", number, order["id"])]
    with pytest.raises(ValueError, match="only employer_change or rehire"):
        sandbox.script_changes(link_id, {"at_refresh": 3, "pay_cut": "5%"}, suborder_number=number)
    with make_client(sandbox) as client:
        clock.advance(DAY)
        refresh_and_wait(client, clock, order["id"])
    with pytest.raises(ValueError, match="at_refresh 1 is not after"):
        sandbox.script_changes(link_id, {"at_refresh": 1, "job_type_change": True}, suborder_number=number)
    with pytest.raises(KeyError):
        sandbox.script_changes("nope", {"at_refresh": 5, "job_loss": True})


def test_scenario_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "changes.yaml"
    path.write_text(
        """
seed: 5
orders:
  - order_id: o1
    employers:
      - company: Initech
        changes:
          - {at_refresh: 2, pay_cut: 15%}
          - {at_refresh: 3, job_loss: true}
      - {company: Globex Corp}
"""
    )
    loaded = load_scenario_file(path, clock=FixedClock(T0))
    assert [(c["kind"], c["at_refresh"], c["company"]) for c in loaded.sandbox.scripted_changes()] == [
        ("pay_cut", 2, "Initech"),
        ("job_loss", 3, "Initech"),
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("orders:\n  - employers: [{changes: {at_refresh: 2, job_lost: true}}]\n")
    with pytest.raises(
        ValueError, match=r"bad.yaml: orders\[0\]\.employers\[0\]\.changes\[0\]: unknown keys \['job_lost'\]"
    ):
        load_scenario_file(bad)


def test_admin_lists_scripted_changes(clock: FixedClock) -> None:
    sandbox = Sandbox(clock=clock)
    with httpx.Client(base_url="http://sandbox", transport=SandboxTransport(sandbox)) as admin:
        created = admin.post(
            "/_sandbox/orders/", json={"employers": [{"changes": {"at_refresh": 2, "missed_pay": True}}]}
        )
        assert created.status_code == 201
        bad = admin.post("/_sandbox/orders/", json={"employers": [{"changes": {"at_refresh": 2, "nope": True}}]})
        assert bad.status_code == 400 and "unknown keys ['nope']" in bad.json()["error"]["message"]
        listed = admin.get("/_sandbox/scripted-changes/").json()
    assert [(c["kind"], c["link_id"]) for c in listed] == [("missed_pay", created.json()["employers"][0]["link_id"])]


# ---- 5. portfolios with scripted changes ----------------------------------------------------

PER_KIND = dict.fromkeys(CHANGE_KINDS, 5)


def test_portfolio_scripted_changes(clock: FixedClock) -> None:
    plain = generate_portfolio(Sandbox(seed=2, clock=FixedClock(T0)), 200, seed=8)
    sandbox = sandbox_for_months(clock, seed=2)
    rows = generate_portfolio(sandbox, 200, seed=8, scripted_changes=PER_KIND, scripted_at_refresh=[2, 3])
    assert rows == plain  # same rows, orders and ids as without changes
    assert plain.scripted == {} and len(rows.scripted) == 5 * len(CHANGE_KINDS)
    assert Counter(kind for changes in rows.scripted.values() for kind, _ in changes) == Counter(PER_KIND)
    assert {at for changes in rows.scripted.values() for _, at in changes} == {2, 3}
    scripted = sandbox.scripted_changes()
    assert len(scripted) == 5 * len(CHANGE_KINDS)
    orders = {r["order_id"]: r["loan_id"] for r in rows}
    assert {(orders[c["order_id"]], c["kind"], c["at_refresh"]) for c in scripted} == {
        (loan, kind, at) for loan, changes in rows.scripted.items() for kind, at in changes
    }
    for loan, details in rows.scripted_detail.items():
        assert [(d["kind"], d["at_refresh"]) for d in details] == rows.scripted[loan]
        order = sandbox.order(next(r["order_id"] for r in rows if r["loan_id"] == loan))
        kind = details[0]["kind"]
        assert all(e["status"] == "completed" for e in order["employers"])
        if kind in INCOME_ONLY_KINDS:
            assert order["products"] == ["income"]
    again = generate_portfolio(
        sandbox_for_months(FixedClock(T0), seed=2), 200, seed=8, scripted_changes=PER_KIND, scripted_at_refresh=[2, 3]
    )
    assert again.scripted == rows.scripted and again.scripted_detail == rows.scripted_detail


def test_portfolio_changes_show_at_their_refresh_and_nowhere_else(clock: FixedClock) -> None:
    sandbox = sandbox_for_months(clock, seed=2)
    rows = generate_portfolio(sandbox, 200, seed=8, scripted_changes=PER_KIND, scripted_at_refresh=[2, 3])
    orders = {r["loan_id"]: sandbox.order(r["order_id"]) for r in rows}
    history: dict[tuple[str, str], list[dict]] = {}
    with make_client(sandbox) as client:
        for _ in range(4):
            clock.advance(30 * DAY)
            for order in orders.values():
                client.post(f"orders/{order['id']}/", json={"products": order["products"][:1]})
            clock.advance(5)
            for loan, order in orders.items():
                for employer in order["employers"]:
                    response = client.get(f"links/{employer['link_id']}/{order['products'][0]}/report/")
                    assert response.status_code == 200
                    history.setdefault((loan, employer["link_id"]), []).append(response.json())
    changed_at: dict[tuple[str, str], set[int]] = {}
    for (loan, link_id), reports in history.items():
        for number, (older, newer) in enumerate(pairwise(reports), start=2):
            if newer["status"] != "done" or older["status"] != "done":
                continue
            if [fields(e) for e in older["employments"]] != [fields(e) for e in newer["employments"]]:
                changed_at.setdefault((loan, link_id), set()).add(number)
            was = {e["id"]: e.get("statements") for e in older["employments"]}
            for employment in newer["employments"]:
                stubs, old_stubs = employment.get("statements"), was.get(employment["id"])
                # An active job paid every 14 days shows a new pay date a month later, unless
                # a missed pay was scripted.
                if employment["is_active"] and stubs and old_stubs and stubs[0]["pay_date"] == old_stubs[0]["pay_date"]:
                    changed_at.setdefault((loan, link_id), set()).add(number)
                # hours_cut and leave show only on the stubs: the newest one's hours or earnings line differ.
                if (
                    stubs
                    and old_stubs
                    and (stubs[0]["hours"], stubs[0]["earnings"])
                    != (
                        old_stubs[0]["hours"],
                        [{**line, "amount": stubs[0]["earnings"][0]["amount"]} for line in old_stubs[0]["earnings"]],
                    )
                ):
                    changed_at.setdefault((loan, link_id), set()).add(number)
    expected = {
        (loan, detail["link_id"]): {detail["at_refresh"]}
        for loan, details in rows.scripted_detail.items()
        for detail in details
    }
    # missed_pay keeps showing (no pay at every later refresh): count its first refresh.
    assert {key: {min(v)} for key, v in changed_at.items()} == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scripted_changes": {"promotion": 1}}, r"unknown kinds \['promotion'\]"),
        ({"scripted_changes": {"job_loss": -1}}, "expected a count or a share"),
        ({"scripted_changes": {"job_loss": 1.5}}, "a share must be below 1"),
        ({"scripted_changes": {"job_loss": True}}, "expected a count or a share"),
        ({"scripted_changes": {"job_loss": 500}}, "500 loans wanted for job_loss but only"),
        ({"scripted_changes": {"job_loss": 1}, "scripted_at_refresh": 0}, "scripted_at_refresh"),
        ({"scripted_changes": {"pay_cut": 1}, "scripted_pay_cut": 15}, "scripted_pay_cut"),
    ],
)
def test_portfolio_scripted_changes_errors(clock: FixedClock, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_portfolio(Sandbox(clock=clock), 50, seed=1, **kwargs)


def test_portfolio_shares_and_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "portfolio.yaml"
    path.write_text(
        "portfolio: {n: 100, seed: 2, scripted_changes: {job_loss: 0.05, pay_cut: 2}, "
        "scripted_at_refresh: 3, scripted_pay_cut: 20%}\n"
    )
    loaded = load_scenario_file(path, clock=FixedClock(T0))
    kinds = Counter(kind for changes in loaded.loans.scripted.values() for kind, _ in changes)
    assert kinds == {"job_loss": 5, "pay_cut": 2}
    assert {at for changes in loaded.loans.scripted.values() for _, at in changes} == {3}
    assert {c["pay_cut"] for c in loaded.sandbox.scripted_changes() if c["kind"] == "pay_cut"} == {"0.2"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("portfolio: {n: 10, scripted_changes: {job_los: 1}}\n")
    with pytest.raises(ValueError, match=r"portfolio\.scripted_changes: unknown kinds"):
        load_scenario_file(bad)
