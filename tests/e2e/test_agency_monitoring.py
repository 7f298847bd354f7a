"""Issue 22 points 4 and 6 from the lender's side: a 200-loan sandbox portfolio with scripted changes of
every kind monitoring knows, some loans carrying what was underwritten (qualifying income, DTI, FHA,
a note date); every change comes back with its rule and severity, and the unchanged loans (some with
underwriting columns too) give nothing. SQLite and Postgres."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from monitor.config import parse_config
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import Sandbox
from monitor.sandbox.scenario import generate_portfolio
from monitor.store.db import session
from monitor.store.monitoring import findings
from monitor.store.tables import LinkSnapshot, Outbox
from tests.helpers import import_csv, services, write_csv

CONFIG = """\
truv: {requests_per_minute: 100000, concurrency: 4}
loans: {attributes: [program]}
policies:
  - {use: fha-preclose, name: fha-income, match: {program: fha}, product: income, max_age: 29d}
  - {name: income-29d, match: {}, product: income, max_age: 29d}
  - {name: employment-29d, match: {}, product: employment, max_age: 29d}
  - {name: assets-29d, match: {}, product: assets, max_age: 29d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [fha-income, income-29d, employment-29d, assets-29d],
     max_refreshes: 5000}
"""

C, H, M = "critical", "high", "medium"
EXPECTED = {
    "job_loss": Counter({("job_loss", C): 1}),
    "derived_inactive": Counter({("job_loss", C): 1}),
    "pay_cut": Counter({("income_drop", H): 2}),  # income and pay_rate against the last report
    "employer_change": Counter({("job_loss", C): 1, ("employer_change", H): 1}),
    "rehire": Counter({("job_loss", C): 1, ("employer_change", H): 1}),
    "missed_pay": Counter({("missed_pay", H): 1}),
    "job_type_change": Counter({("job_type_change", H): 1}),
    "pay_frequency_change": Counter({("pay_change", M): 1}),
    "hours_cut": Counter({("hours_drop", M): 1}),
    "second_job": Counter({("new_employment", M): 1}),
    "leave": Counter({("leave_of_absence", H): 1}),
}
# What a loan's underwriting columns add to its scripted change.
ENDS_BEFORE_NOTE = Counter()  # the job_loss itself says it ends before the note date (its detail)
QUALIFYING = Counter()  # income_drop now measured against qualifying income: same count, another field
DTI = Counter({("resubmit_required", H): 1})  # 15% less income: DTI 40% -> 47.06%
FHA = Counter({("rescore_required", H): 1})  # 15% below the scored income
# Assets orders (VOA): the sandbox's scripted account changes, and what each must come back as.
ASSETS = {
    "balance_drop": Counter({("insufficient_funds", H): 1}),
    "large_deposit": Counter({("large_deposit", M): 1}),
    "account_closed": Counter({("account_closed", H): 1}),
    None: Counter(),
}
# Balances start at 30,000 or more and fall to 20,000 or less; payroll credits stay at or below
# 6,000, half a 20,000 monthly income is 10,000, and the scripted deposit is 25,000.
ASSET_COLUMNS = {
    "funds_to_close": "20000",
    "reserves": "5000",
    "qualifying_income": "20000",
    "qualifying_income_unit": "monthly",
}


def run(svc):
    return JobPass(svc, svc.config.job("nightly"), wait_seconds=30).run()


def incomes(svc) -> dict[str, list[str]]:
    """Each loan's verified yearly incomes (one per connection) from each connection's newest snapshot (the
    original order's data is an older baseline snapshot of the same connection)."""
    newest: dict[tuple[str, str], LinkSnapshot] = {}
    with session(svc.engine) as s:
        for snap in s.execute(select(LinkSnapshot).order_by(LinkSnapshot.as_of, LinkSnapshot.id)).scalars():
            newest[(snap.loan_id, snap.token_hash)] = snap
    out: dict[str, list[str]] = {}
    for (loan_id, _), snap in newest.items():
        body = json.loads(snap.body)
        out.setdefault(loan_id, []).extend(e["income"] for e in body.get("employments", ()) if "income" in e)
    return out


def test_every_agency_change_is_found_with_its_rule_and_unchanged_loans_give_nothing(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=31, clock=clock, completion_delay=1.0, requests_per_minute=100_000)
    counts = dict.fromkeys(EXPECTED, 4) | {"pay_cut": 10, "job_loss": 8}
    rows = generate_portfolio(
        sandbox,
        200,
        seed=31,
        shared_token_share=0.0,
        failing_share=0.0,
        stale_share=1.0,
        scripted_changes=counts,
        scripted_at_refresh=2,
    )
    loans = [{**row, "closing_date": "", "program": "conventional"} for row in rows]
    assets_loans: dict[str, str | None] = {}
    for n, kind in enumerate([k for k in ASSETS for _ in range(3)]):
        order = sandbox.add_order(
            products=("assets",),
            employers=[],
            financial_accounts=[{}],
            completed_at=clock.now() - timedelta(days=45),
        )
        if kind is not None:
            sandbox.script_asset_changes(order["financial_accounts"][0]["link_id"], {"at_refresh": 2, kind: True})
        loan_id = f"VOA{n:03d}"
        assets_loans[loan_id] = kind
        loans.append({"loan_id": loan_id, "order_id": order["id"], "gse": "false", "status": "active"} | ASSET_COLUMNS)
        loans[-1] |= {"closing_date": "", "program": "conventional"}
    by_id = {row["loan_id"]: row for row in loans}
    scripted = {loan: [kind for kind, _ in changes] for loan, changes in rows.scripted.items()}
    extra: dict[str, Counter] = {}
    # Half the job losses close after the job ends: the note-date rule too.
    for loan in sorted(k for k, kinds in scripted.items() if kinds == ["job_loss"])[:4]:
        by_id[loan]["closing_date"] = (clock.now() + timedelta(days=90)).date().isoformat()
        extra[loan] = ENDS_BEFORE_NOTE
    svc = services(db_url, clock, sandbox, parse_config(CONFIG))
    columns = ["qualifying_income", "qualifying_income_unit", "dti", "funds_to_close", "reserves"]
    import_csv(svc, write_csv(tmp_path / "loans.csv", [dict.fromkeys(columns, "") | row for row in loans]))
    first = run(svc)  # the baseline
    assert first.submitted == 200 + len(assets_loans) and first.findings == 0

    # What was underwritten: the verified income itself, for loans with one income connection.
    verified = {loan: found for loan, found in incomes(svc).items() if len(found) == 1 and loan not in assets_loans}
    cuts = sorted(k for k, kinds in scripted.items() if kinds == ["pay_cut"] and k in verified)
    assert len(cuts) >= 6
    unchanged = sorted(k for k in verified if k not in scripted)[:10]
    assert len(unchanged) == 10
    for loan in [*cuts[:6], *unchanged]:
        by_id[loan] |= {"qualifying_income": verified[loan][0], "qualifying_income_unit": "yearly"}
        extra.setdefault(loan, QUALIFYING)
    for loan in [*cuts[2:4], *unchanged[:5]]:
        by_id[loan]["dti"] = "40"
    for loan in cuts[2:4]:
        extra[loan] = DTI
    for loan in [*cuts[4:6], *unchanged[5:]]:
        by_id[loan]["program"] = "fha"
    for loan in cuts[4:6]:
        extra[loan] = FHA
    import_csv(svc, write_csv(tmp_path / "underwritten.csv", [dict.fromkeys(columns, "") | row for row in loans]))

    clock.advance(30 * 86400)
    second = run(svc)  # the scripted changes show
    assert second.submitted == 200 + len(assets_loans)
    with session(svc.engine) as s:
        found = findings(s)
    by_loan: dict[str, Counter] = {}
    for f in found:
        by_loan.setdefault(f["loan_id"], Counter())[(f["rule"], f["severity"])] += 1
    expected = {
        loan: sum((EXPECTED[kind] for kind in kinds), Counter()) + extra.get(loan, Counter())
        for loan, kinds in scripted.items()
    }
    assert len(expected) == 4 * len(EXPECTED) + 6 + 4
    expected |= {loan: ASSETS[kind] for loan, kind in assets_loans.items() if kind is not None}
    assert by_loan == expected  # each with its rule and severity; nothing on the unchanged loans
    ends = {f["loan_id"] for f in found if f["rule"] == "job_loss" and f["detail"].get("ends_before_note")}
    assert ends == {loan for loan, more in extra.items() if more is ENDS_BEFORE_NOTE}
    # Against qualifying income, the drop names what it was measured against.
    for loan in cuts[:6]:
        fields = {f["field"] for f in found if f["loan_id"] == loan and f["rule"] == "income_drop"}
        assert fields == {"qualifying_income", "pay_rate"}
    # high and critical go to the lender, each with what to do next; medium ones stay in monitor
    with session(svc.engine) as s:
        handed = [json.loads(o.payload) for o in s.execute(select(Outbox)).scalars()]
    steps = {p["rule"]: p["next_step"] for p in handed if p["type"] == "loan.finding"}
    assert "FHA 4000.1" in steps["rescore_required"] and "B3-2-10" in steps["resubmit_required"]
    assert "funds to close" in steps["insufficient_funds"] and "account" in steps["account_closed"]
    assert not {"hours_drop", "new_employment", "large_deposit", "pay_change"} & set(steps)
