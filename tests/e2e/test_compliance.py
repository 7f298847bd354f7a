"""The audit trail and the compliance report, checked against an independently computed history."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from monitor.jobs.refresh_pass import JobPass
from monitor.reports.compliance import build, write
from monitor.sandbox import Sandbox
from monitor.store import audit
from monitor.store.db import session
from monitor.store.tables import Event
from tests.helpers import config, import_csv, seed_loans, services, write_csv


def history(db_url, clock, tmp_path):
    """Three weekly passes over a known portfolio, outcomes polled."""
    sandbox = Sandbox(seed=23, clock=clock, completion_delay=5.0)
    specs = [
        {"loan_id": "G1", "gse": True},
        {"loan_id": "G2", "gse": True, "employers": [("login_error", None)]},
        {"loan_id": "N1"},
        {"loan_id": "N2", "closing_date": (clock.now() + timedelta(days=30)).date().isoformat()},
    ]
    specs += [{"loan_id": f"S{i}", "employers": [("ok", "shared")]} for i in range(4)]
    svc = services(db_url, clock, sandbox, config(max_age="6d", concurrency=1))
    import_csv(svc, write_csv(tmp_path / "l.csv", seed_loans(sandbox, specs, tmp_path, clock)))
    start = clock.now()
    for _ in range(3):
        JobPass(svc, svc.config.job("nightly"), wait_seconds=30).run()
        clock.advance(7 * 86400)
    return svc, sandbox, start


def test_report_matches_an_independent_count(db_url, clock, tmp_path):
    svc, sandbox, start = history(db_url, clock, tmp_path)
    report = build(svc, start=start.date(), end=clock.now().date(), now=clock.now())
    # independent: the sandbox's own record of refreshes, mapped to loans by order_number
    created = sandbox.refreshes()
    per_loan = Counter(sandbox.order(e["parent_order_id"])["order_number"] for e in created)
    rows = {r["loan_id"]: r for r in report["loans"]}
    for loan_id, row in rows.items():
        assert row["refreshes_in_period"] == per_loan.get(loan_id, 0), loan_id
    gse = {"G1", "G2"}
    assert report["totals"]["refreshes"] == len(created)
    assert report["totals"]["billable"] == sum(n for loan, n in per_loan.items() if loan not in gse)
    assert report["totals"]["gse_free"] == sum(n for loan, n in per_loan.items() if loan in gse)
    assert rows["G1"]["gse_used_in_window"] == per_loan["G1"] == 3 and rows["G1"]["gse_free_left"] == 2
    assert rows["G1"]["gse_window_ends"] is not None
    # the shared connection allowed 3 refreshes a week: 4 loans, 3 weeks -> exactly 9, one loan blocked weekly
    assert sum(per_loan[f"S{i}"] for i in range(4)) == 9
    assert [b["rule"] for b in report["exceptions"]["blocked"]] == ["token_budget"]
    assert [a["loan_id"] for a in report["exceptions"]["needs_reauth"]] == ["G2"]
    assert report["exceptions"]["failures_by_status"] == {"login_error": 1}
    assert rows["N2"]["pre_closing_window_start"] is not None
    dumped = json.dumps(report, default=str)
    assert "shared" not in dumped.replace("shared_", "")  # the raw token never appears


def test_report_files(sqlite_url, clock, tmp_path):
    svc, _, start = history(sqlite_url, clock, tmp_path)
    report = build(svc, start=start.date(), end=clock.now().date(), now=clock.now())
    files = write(report, "csv", tmp_path / "out" / "r.csv")
    with files[0].open() as handle:
        assert len(list(csv.DictReader(handle))) == len(report["loans"])
    assert "needs_reauth" in files[1].read_text()
    (html_path,) = write(report, "html", tmp_path / "out" / "r.html")
    page = html_path.read_text()
    assert page.count("<svg") == 5 and "http" not in page.replace("http-equiv", "")  # self-contained


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by .ci/run")
def test_html_report_renders_in_headless_chromium(sqlite_url, clock, tmp_path):
    svc, _, start = history(sqlite_url, clock, tmp_path)
    (page,) = write(
        build(svc, start=start.date(), end=clock.now().date(), now=clock.now()), "html", tmp_path / "r.html"
    )
    shot = tmp_path / "r.png"
    pdf = tmp_path / "r.pdf"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    subprocess.run(
        ["chromium", *flags, "--window-size=1100,1400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    subprocess.run(["chromium", *flags, f"--print-to-pdf={pdf}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000  # a page with charts, not a blank one
    assert pdf.read_bytes().startswith(b"%PDF")


def test_audit_verify_catches_an_edited_and_a_deleted_row(db_url, clock, tmp_path):
    svc, _, _ = history(db_url, clock, tmp_path)
    with session(svc.engine) as s:
        assert audit.verify(s, key=None)["ok"]
        target = s.execute(select(Event.seq).where(Event.kind == "reserved").order_by(Event.seq).limit(1)).scalar_one()
        s.execute(text("UPDATE event SET detail = '{\"billable\": false}' WHERE seq = :seq"), {"seq": target})
    with session(svc.engine) as s:
        edited = audit.verify(s, key=None)
    assert not edited["ok"] and edited["first_broken_seq"] == target and edited["reason"] == "edited"
    with session(svc.engine) as s:
        s.execute(text("DELETE FROM event WHERE seq = :seq"), {"seq": target})
    with session(svc.engine) as s:
        deleted = audit.verify(s, key=None)
    assert not deleted["ok"] and deleted["first_broken_seq"] == target and deleted["reason"] == "missing"


def test_deleting_the_newest_entries_is_caught(sqlite_url, clock, tmp_path):
    svc, _, _ = history(sqlite_url, clock, tmp_path)
    with session(svc.engine) as s:
        s.execute(text("DELETE FROM event WHERE seq = (SELECT MAX(seq) FROM event)"))
    with session(svc.engine) as s:
        assert not audit.verify(s, key=None)["ok"]


def test_purge_keeps_the_chain_verifiable_from_a_signed_checkpoint(db_url, clock, tmp_path):
    svc, _, start = history(db_url, clock, tmp_path)
    cut = start + timedelta(days=8)
    with session(svc.engine) as s:
        result = audit.purge(s, before=cut, key="audit-key", now=clock.now())
    assert result["removed"] > 0
    with session(svc.engine) as s:
        ok = audit.verify(s, key="audit-key")
        remaining = s.execute(select(Event.at).order_by(Event.seq).limit(1)).scalar_one()
    # Written without a key: the checkpoint verifies, and the chain says it is not keyed yet.
    assert ok["reason"] == "unsealed" and ok["checkpoint"]["signature_ok"] and remaining >= cut
    with session(svc.engine) as s:
        audit.seal(s, key="audit-key", now=clock.now(), verified_seq=ok["head_seq"], verified_hash=ok["head_hash"])
    with session(svc.engine) as s:
        assert audit.verify(s, key="audit-key")["ok"]
    with session(svc.engine) as s:
        wrong = audit.verify(s, key="wrong-key")
    assert wrong["checkpoint"]["signature_ok"] is False and wrong["reason"] == "wrong_key"


def test_entries_appended_from_many_threads_chain_in_one_order(db_url, clock):
    svc = services(db_url, clock, None)

    def writer(n):
        for i in range(25):
            with session(svc.engine) as s:
                audit.append(s, at=datetime.now(UTC), kind="test", detail={"writer": n, "i": i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session(svc.engine) as s:
        result = audit.verify(s, key=None)
    assert result["ok"] and result["entries_checked"] == 200


def test_every_entry_names_actor_purpose_and_version(sqlite_url, clock, tmp_path):
    svc, _, _ = history(sqlite_url, clock, tmp_path)
    with session(svc.engine) as s:
        rows = s.execute(select(Event).where(Event.kind.in_(("reserved", "submitted", "skipped")))).scalars().all()
    assert rows and all(r.actor and r.version and r.run_id for r in rows)
    assert all(r.purpose and "604(a)(3)(A)" in r.purpose for r in rows if r.kind in ("reserved", "submitted"))


def test_report_times_in_the_zone_asked_for(sqlite_url, clock, tmp_path):
    from zoneinfo import ZoneInfo

    svc, _, start = history(sqlite_url, clock, tmp_path)
    report = build(svc, start=start.date(), end=clock.now().date(), now=clock.now())
    (utc_file, *_) = write(report, "csv", tmp_path / "utc" / "r.csv")
    (ny_file, *_) = write(report, "csv", tmp_path / "ny" / "r.csv", zone=ZoneInfo("America/New_York"))
    with utc_file.open() as a, ny_file.open() as b:
        utc_rows, ny_rows = list(csv.DictReader(a)), list(csv.DictReader(b))
    pairs = [(u["data_as_of"], n["data_as_of"]) for u, n in zip(utc_rows, ny_rows, strict=True) if u["data_as_of"]]
    assert pairs
    for utc_text, ny_text in pairs:
        at = datetime.strptime(utc_text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        local = at.astimezone(ZoneInfo("America/New_York"))
        assert ny_text == local.strftime("%Y-%m-%d %H:%M %Z")  # EST or EDT named in every cell
    (page,) = write(report, "html", tmp_path / "ny" / "r.html", zone=ZoneInfo("America/New_York"))
    assert " UTC by monitor" not in page.read_text()
    # the default is UTC, said once in the header
    assert " UTC by monitor" in write(report, "html", tmp_path / "utc" / "r.html")[0].read_text()
