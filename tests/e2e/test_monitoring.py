"""Income monitoring from the lender's side (issue 13, DESIGN.md rule 14): scripted changes in the
sandbox's payroll data at known refreshes must come back as findings, and nothing else may."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from monitor.config import parse_config
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.sandbox.scenario import generate_portfolio
from monitor.store.db import session
from monitor.store.monitoring import findings
from monitor.store.tables import Outbox
from tests.helpers import import_csv, services, write_csv

MONITORING = """\
truv: {requests_per_minute: 100000, concurrency: 4}
policies:
  - {name: income-29d, match: {}, product: income, max_age: 29d,
     monitoring: {income_drop_review: 5%, income_drop_material: 10%}}
  - {name: employment-29d, match: {}, product: employment, max_age: 29d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-29d, employment-29d], max_refreshes: 5000}
"""

# What each scripted change must come back as: (rule, severity, confidence) findings, in any order.
EXPECTED = {
    "job_loss": Counter({("job_loss", "critical", "confirmed"): 1}),
    "derived_inactive": Counter({("job_loss", "critical", "probable"): 1}),
    "pay_cut": Counter({("income_drop", "high", "confirmed"): 2}),  # income and pay_rate
    "employer_change": Counter({("job_loss", "critical", "confirmed"): 1, ("employer_change", "high", "confirmed"): 1}),
    "rehire": Counter({("job_loss", "critical", "confirmed"): 1, ("employer_change", "high", "confirmed"): 1}),
    "missed_pay": Counter({("missed_pay", "high", "confirmed"): 1}),
    "job_type_change": Counter({("job_type_change", "high", "confirmed"): 1}),
    "pay_frequency_change": Counter({("pay_change", "medium", "confirmed"): 1}),
}


def run(svc):
    return JobPass(svc, svc.config.job("nightly"), wait_seconds=30).run()


def test_every_scripted_change_is_found_and_unchanged_loans_give_nothing(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=21, clock=clock, completion_delay=1.0, requests_per_minute=100_000)
    rows = generate_portfolio(
        sandbox,
        200,
        seed=21,
        shared_token_share=0.0,
        failing_share=0.0,
        stale_share=1.0,
        scripted_changes=dict.fromkeys(EXPECTED, 4),
        scripted_at_refresh=2,
    )
    svc = services(db_url, clock, sandbox, parse_config(MONITORING))
    import_csv(svc, write_csv(tmp_path / "loans.csv", list(rows)))
    first = run(svc)  # refresh 1 of every connection: the baseline, no finding
    assert first.submitted == 200 and first.findings == 0 and first.reports_read >= 200
    clock.advance(30 * 86400)
    second = run(svc)  # refresh 2: the scripted changes show
    assert second.submitted == 200
    with session(svc.engine) as s:
        found = findings(s)
    by_loan: dict[str, Counter] = {}
    for f in found:
        by_loan.setdefault(f["loan_id"], Counter())[(f["rule"], f["severity"], f["confidence"])] += 1
    expected = {
        loan_id: sum((EXPECTED[kind] for kind, _ in changes), Counter()) for loan_id, changes in rows.scripted.items()
    }
    assert len(expected) == 32
    assert by_loan == expected  # every scripted change found with its rule and severity; no false positive
    # high and critical findings go to the lender; medium ones do not
    with session(svc.engine) as s:
        handed = [json.loads(o.payload) for o in s.execute(select(Outbox)).scalars()]
    handed_findings = [p for p in handed if p["type"] == "loan.finding"]
    assert len(handed_findings) == sum(1 for f in found if f["severity"] in ("high", "critical"))
    assert all(p["severity"] != "medium" for p in handed_findings)


def test_a_failed_refresh_is_unverified_never_no_change(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=22, clock=clock, completion_delay=1.0)
    bad = sandbox.add_order(
        employers=[EmployerSpec(scenario="login_error")], created_at=clock.now() - timedelta(days=45)
    )
    svc = services(db_url, clock, sandbox, parse_config(MONITORING))
    import_csv(svc, write_csv(tmp_path / "loans.csv", [{"loan_id": "U", "order_id": bad["id"]}]))
    summary = run(svc)
    assert summary.failed["login_error"] == 1
    with session(svc.engine) as s:
        (only,) = findings(s)
    assert (only["loan_id"], only["rule"], only["severity"], only["after"]) == (
        "U",
        "unverified",
        "high",
        "login_error",
    )


def test_snapshots_and_findings_follow_the_retention_purge(db_url, clock, tmp_path):
    from monitor.store.audit import purge
    from monitor.store.tables import Finding, LinkSnapshot

    sandbox = Sandbox(seed=23, clock=clock, completion_delay=1.0)
    kept = sandbox.add_order(
        employers=[{"changes": {"at_refresh": 2, "job_loss": True}}], created_at=clock.now() - timedelta(days=45)
    )
    gone = sandbox.add_order(created_at=clock.now() - timedelta(days=45))
    svc = services(db_url, clock, sandbox, parse_config(MONITORING))
    rows = [{"loan_id": "KEEP", "order_id": kept["id"]}, {"loan_id": "CLOSE", "order_id": gone["id"]}]
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))
    run(svc)
    clock.advance(30 * 86400)
    run(svc)
    with session(svc.engine) as s:
        # each connection: its baseline (the original order's report, read before the first refresh) and two refreshes
        assert s.execute(select(LinkSnapshot)).scalars().all().__len__() == 6
        assert [f["rule"] for f in findings(s)] == ["job_loss"]
    closed = [rows[0], {**rows[1], "status": "closed"}]
    import_csv(svc, write_csv(tmp_path / "closed.csv", [{"status": "active", **rows[0]}, closed[1]]))
    with session(svc.engine) as s:
        out = purge(s, before=clock.now() + timedelta(seconds=1), key="k" * 32, now=clock.now(), forced=True)
    assert (out["snapshots_removed"], out["findings_removed"]) == (5, 1)
    with session(svc.engine) as s:
        left = s.execute(select(LinkSnapshot.loan_id)).scalars().all()
        assert left == ["KEEP"]  # an active loan's baseline stays; a closed loan's data goes
        assert s.execute(select(Finding)).scalars().all() == []


def test_the_report_shows_the_changes_and_the_pre_closing_evidence(db_url, clock, tmp_path):
    from monitor.reports.compliance import build

    sandbox = Sandbox(seed=24, clock=clock, completion_delay=1.0)
    lost = sandbox.add_order(
        employers=[{"changes": {"at_refresh": 2, "job_loss": True}}], created_at=clock.now() - timedelta(days=45)
    )
    never = sandbox.add_order(created_at=clock.now() - timedelta(days=45), forbidden=True)
    svc = services(db_url, clock, sandbox, parse_config(MONITORING))
    closing = (clock.now() + timedelta(days=31)).date().isoformat()
    rows = [
        {"loan_id": "LOST", "order_id": lost["id"], "closing_date": closing},
        {"loan_id": "NEVER", "order_id": never["id"], "closing_date": closing},
    ]
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))
    start = clock.now().date()
    run(svc)
    clock.advance(30 * 86400)  # the day before closing: LOST is refreshed again, inside its window
    run(svc)
    clock.advance(2 * 86400)  # both have closed
    now = clock.now()
    report = build(svc, start=start, end=now.date(), now=now, pre_closing_days=10)
    assert report["changes"]["by_severity"] == {"critical": 1, "high": 0, "medium": 0}
    assert [(f["loan_id"], f["rule"]) for f in report["changes"]["findings"]] == [("LOST", "job_loss")]
    evidence = {c["loan_id"]: c for c in report["pre_closing"]}
    assert evidence["LOST"]["status"] == "verified_with_findings" and evidence["LOST"]["report_id"]
    assert evidence["LOST"]["exception"]  # its job loss is unresolved
    assert evidence["NEVER"]["status"] == "missing" and evidence["NEVER"]["exception"]
    assert [c["loan_id"] for c in report["exceptions"]["closed_without_verification"]] == ["LOST", "NEVER"]
    assert report["totals"]["findings"] == 1
    # Without --pre-closing-days no policy of this file has a window: neither loan is judged (issue 24 point 8).
    unjudged = build(svc, start=start, end=now.date(), now=now)
    assert {c["status"] for c in unjudged["pre_closing"]} == {"not_covered"}
    assert unjudged["exceptions"]["closed_without_verification"] == []
