"""Pre-closing evidence an auditor can rely on (issue 22 points 1, 2 and 7; issue 24 point 8).

Three loans close today under a 10-business-day pre-closing policy, against the sandbox: an assets-only
order refreshed today has no VOE evidence (`missing`, an exception), an income order whose first refresh
shows the job ended is `verified_with_findings` (an exception until the finding is resolved), a clean one is
`verified`. A loan no pre-closing policy covers is not judged. `monitor changes` lists the job loss after one
refresh (the original order is the baseline), and `monitor changes resolve` records the note and who.
"""

from __future__ import annotations

import csv
import json
import logging
from datetime import timedelta

import structlog
from sqlalchemy import select

from monitor.cli import main
from monitor.config import parse_config
from monitor.jobs.refresh_pass import JobPass
from monitor.reports.compliance import build, render_html, write
from monitor.reports.loan_view import loan_show
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.store.db import session
from monitor.store.tables import Event, LinkSnapshot
from tests.conftest import T0
from tests.helpers import import_csv, services, write_csv

CONFIG = """\
truv: {requests_per_minute: 100000, concurrency: 2}
loans: {attributes: [program]}
policies:
  - {name: voe-preclose, match: {program: voie}, product: income, max_age: 30d, pre_closing_business_days: 10}
  - {name: voa-preclose, match: {program: voa}, product: assets, max_age: 30d, pre_closing_business_days: 10}
  - {name: monthly, match: {program: other}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [voe-preclose, voa-preclose, monthly], max_refreshes: 100}
"""


def _cli(capsys, tmp_path, db_url, *args: str) -> tuple[int, str, str]:
    config = tmp_path / "jobs.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    capsys.readouterr()
    # In process, so the frozen clock holds; the CLI configures logging for its process: put it back after.
    saved, root = structlog.get_config(), logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        code = main(["--config", str(config), "--database", db_url, *args])
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)
    out = capsys.readouterr()
    return code, out.out, out.err


def _three_loans_closing_today(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=2201, clock=clock, completion_delay=1.0, requests_per_minute=100_000)
    long_ago = clock.now() - timedelta(days=45)
    assets = sandbox.add_order(
        products=("assets",), employers=[], financial_accounts=[EmployerSpec()], created_at=long_ago
    )
    lost = sandbox.add_order(employers=[{"changes": {"at_refresh": 1, "job_loss": True}}], created_at=long_ago)
    clean = sandbox.add_order(created_at=long_ago)
    other = sandbox.add_order(created_at=long_ago)
    svc = services(db_url, clock, sandbox, parse_config(CONFIG))
    today = clock.now().date().isoformat()
    rows = [
        {"loan_id": "ASSETS", "order_id": assets["id"], "program": "voa", "closing_date": today},
        {"loan_id": "LOST", "order_id": lost["id"], "program": "voie", "closing_date": today},
        {"loan_id": "CLEAN", "order_id": clean["id"], "program": "voie", "closing_date": today},
        {"loan_id": "UNCOVERED", "order_id": other["id"], "program": "other", "closing_date": today},
    ]
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))
    summary = JobPass(svc, svc.config.job("nightly"), wait_seconds=30).run()
    assert summary.submitted == 4 and summary.completed == 4
    return svc


def _evidence(report) -> dict[tuple[str, str], dict]:
    return {(r["loan_id"], r["evidence"]): r for r in report["pre_closing"]}


def test_three_loans_closing_today_and_the_finding_resolved(db_url, clock, tmp_path, capsys, freezer):
    freezer.move_to(T0)  # the CLI's own clock reads the same frozen moment as the pass
    svc = _three_loans_closing_today(db_url, clock, tmp_path)
    today = clock.now().date()

    # One refresh: the original order's data was read first as the baseline, so the job loss is a finding.
    code, out, err = _cli(capsys, tmp_path, db_url, "changes", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert [(f["loan_id"], f["rule"], f["severity"], f["disposition"]) for f in found] == [
        ("LOST", "job_loss", "critical", "open")
    ]
    with session(svc.engine) as s:
        baselines = s.execute(select(LinkSnapshot.loan_id, LinkSnapshot.refresh_order_id)).all()
    # The income loans' baselines and reports; the assets loan's VOA report, read after its refresh (assets rules)
    assert {loan for loan, _ in baselines} == {"LOST", "CLEAN", "UNCOVERED", "ASSETS"}

    report = build(svc, start=today, end=today, now=clock.now())
    ev = _evidence(report)
    assert set(ev) == {("ASSETS", "voe"), ("ASSETS", "voa"), ("LOST", "voe"), ("CLEAN", "voe"), ("UNCOVERED", "voe")}
    # An assets refresh is never VOE evidence.
    assert (ev["ASSETS", "voe"]["status"], ev["ASSETS", "voe"]["exception"]) == ("missing", True)
    assert (ev["ASSETS", "voa"]["status"], ev["ASSETS", "voa"]["exception"]) == ("verified", False)
    assert ev["ASSETS", "voa"]["product"] == "assets" and ev["ASSETS", "voa"]["report_id"]
    lost = ev["LOST", "voe"]
    assert (lost["status"], lost["exception"]) == ("verified_with_findings", True)
    assert [(f["rule"], f["disposition"]) for f in lost["findings"]] == [("job_loss", "open")]
    clean = ev["CLEAN", "voe"]
    assert (clean["status"], clean["exception"], clean["findings"]) == ("verified", False, [])
    assert clean["product"] == "income" and clean["report_id"] and clean["employers_verified"]
    assert clean["order_id"] != clean["loan_id"] and clean["data_as_of"] >= lost["window_start"]
    assert "10 business days" in clean["rule"] and "voe-preclose" in clean["rule"]
    # Issue 24 point 8: no policy with a pre-closing window covers it, so it is not judged.
    assert (ev["UNCOVERED", "voe"]["status"], ev["UNCOVERED", "voe"]["exception"]) == ("not_covered", False)
    exceptions = report["exceptions"]["closed_without_verification"]
    assert sorted((x["loan_id"], x["evidence"]) for x in exceptions) == [("ASSETS", "voe"), ("LOST", "voe")]

    # The operator resolves it, with a note; the report shows it resolved, with the note and who.
    finding_id = str(found[0]["id"])
    code, out, err = _cli(capsys, tmp_path, db_url, "changes", "resolve", finding_id, "--note", "new job verified")
    assert code == 0, err
    assert "resolved by operator:" in out
    resolved = build(svc, start=today, end=today, now=clock.now())
    (change,) = resolved["changes"]["findings"]  # the report's changes section says so too
    assert (change["disposition"], change["disposition_note"]) == ("resolved", "new job verified")
    assert change["disposition_by"].startswith("operator:")
    assert "new job verified" in render_html(resolved)
    after = _evidence(resolved)["LOST", "voe"]
    (shown,) = after["findings"]
    assert (shown["disposition"], shown["note"]) == ("resolved", "new job verified")
    assert shown["by"].startswith("operator:") and shown["at"] is not None
    assert (after["status"], after["exception"]) == ("verified_with_findings", False)
    with session(svc.engine) as s:
        (entry,) = s.execute(select(Event).where(Event.kind == "finding_resolved")).scalars()
    assert entry.loan_id == "LOST" and entry.actor.startswith("operator:")
    assert json.loads(entry.detail)["note"] == "new job verified"


def test_the_same_rows_in_every_output(db_url, clock, tmp_path, capsys, freezer):
    freezer.move_to(T0)
    svc = _three_loans_closing_today(db_url, clock, tmp_path)
    today = clock.now().date()
    report = build(svc, start=today, end=today, now=clock.now())
    wanted = {(r["loan_id"], r["evidence"], r["status"]) for r in report["pre_closing"]}

    written = write(report, "csv", tmp_path / "r.csv")
    closing_csv = next(p for p in written if p.name == "r-preclosing.csv")
    with closing_csv.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["loan_id"], r["evidence"], r["status"]) for r in rows} == wanted
    assert "job_loss critical open" in next(r["findings"] for r in rows if r["loan_id"] == "LOST")
    exceptions = (tmp_path / "r-exceptions.csv").read_text(encoding="utf-8")
    assert "ASSETS,voe missing" in exceptions and "unresolved high or critical finding" in exceptions

    html = render_html(report)
    for loan, kind, status in wanted:
        assert f"<td>{loan}</td><td>{kind}</td>" in html and f"<td>{status}</td>" in html

    json_path = tmp_path / "r.json"
    write(report, "json", json_path)
    from_json = json.loads(json_path.read_text(encoding="utf-8"))["pre_closing"]
    assert {(r["loan_id"], r["evidence"], r["status"]) for r in from_json} == wanted

    shown = loan_show(svc, "LOST", now=clock.now())["pre_closing"]
    assert [(r["evidence"], r["status"], r["exception"]) for r in shown] == [("voe", "verified_with_findings", True)]
    code, out, err = _cli(capsys, tmp_path, db_url, "loans", "show", "ASSETS", "--json")
    assert code == 0, err
    cli_rows = json.loads(out)["pre_closing"]
    assert [(r["evidence"], r["status"]) for r in cli_rows] == [("voe", "missing"), ("voa", "verified")]
    code, out, err = _cli(capsys, tmp_path, db_url, "loans", "show", "LOST")
    assert code == 0, err
    assert "pre-closing evidence" in out and "verified_with_findings" in out


def test_ack_then_resolve_and_what_is_refused(db_url, clock, tmp_path, capsys, freezer):
    freezer.move_to(T0)
    svc = _three_loans_closing_today(db_url, clock, tmp_path)
    today = clock.now().date()
    code, out, _ = _cli(capsys, tmp_path, db_url, "changes", "--json")
    finding_id = str(json.loads(out)[0]["id"])

    code, _, err = _cli(capsys, tmp_path, db_url, "changes", "ack", "999999", "--note", "x")
    assert code == 2 and "no such finding" in err
    code, _, err = _cli(capsys, tmp_path, db_url, "changes", "ack", finding_id, "--note", "   ")
    assert code == 2 and "--note" in err
    code, out, err = _cli(capsys, tmp_path, db_url, "changes", "ack", finding_id, "--note", "calling the employer")
    assert code == 0 and "acknowledged" in out, err
    # Acknowledged is still unresolved: the loan stays an exception.
    lost = _evidence(build(svc, start=today, end=today, now=clock.now()))["LOST", "voe"]
    assert (lost["findings"][0]["disposition"], lost["exception"]) == ("acknowledged", True)
    code, _, err = _cli(capsys, tmp_path, db_url, "changes", "ack", finding_id, "--note", "again")
    assert code == 2 and "already acknowledged" in err
    code, out, err = _cli(capsys, tmp_path, db_url, "changes", "resolve", finding_id, "--note", "rehired, verified")
    assert code == 0, err
    code, _, err = _cli(capsys, tmp_path, db_url, "changes", "resolve", finding_id, "--note", "again")
    assert code == 2 and "already resolved" in err
    code, out, err = _cli(capsys, tmp_path, db_url, "changes")
    assert code == 0 and "disposition" in out and "resolved" in out, err
    code, out, err = _cli(capsys, tmp_path, db_url, "changes", "--json")
    (listed,) = json.loads(out)
    assert (listed["disposition"], listed["disposition_note"]) == ("resolved", "rehired, verified")
    assert listed["disposition_by"].startswith("operator:")
    with session(svc.engine) as s:
        kinds = [e.kind for e in s.execute(select(Event).order_by(Event.id)).scalars()]
    assert (kinds.count("finding_acknowledged"), kinds.count("finding_resolved")) == (1, 1)


def test_the_baseline_is_read_once_before_the_first_refresh(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=2202, clock=clock, completion_delay=1.0, requests_per_minute=100_000)
    completed = clock.now() - timedelta(days=45)
    order = sandbox.add_order(created_at=completed)
    svc = services(db_url, clock, sandbox, parse_config(CONFIG))
    import_csv(svc, write_csv(tmp_path / "loans.csv", [{"loan_id": "L1", "order_id": order["id"], "program": "voie"}]))
    first = JobPass(svc, svc.config.job("nightly"), wait_seconds=30).run()
    # the original order's report before the refresh, then the refresh's own
    by = first.requests_by_endpoint
    assert (by["get_income_baseline"], by["get_income_report"]) == (1, 1)
    with session(svc.engine) as s:
        (baseline, *_) = s.execute(select(LinkSnapshot).order_by(LinkSnapshot.as_of)).scalars()
    assert (baseline.refresh_order_id, baseline.as_of) == (order["id"], completed)
    clock.advance(31 * 86400)
    second = JobPass(svc, svc.config.job("nightly"), wait_seconds=30).run()
    assert second.submitted == 1 and second.requests_by_endpoint["get_income_report"] == 1
    assert "get_income_baseline" not in second.requests_by_endpoint  # never again
