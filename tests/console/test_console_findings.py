"""The console's side of issue 22 points 1 and 7: an operator acknowledges or resolves a finding with a note
(CSRF, operators only, audited as `console:NAME`), and the report page shows the pre-closing evidence."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from monitor.store.db import session
from monitor.store.monitoring import findings
from monitor.store.tables import Event
from tests.console.world import csrf_of, signed_in
from tests.e2e.test_preclosing_evidence import _three_loans_closing_today


@pytest.fixture
def closing_today(db_url, clock, tmp_path):
    return _three_loans_closing_today(db_url, clock, tmp_path)


def _only_finding(svc) -> dict:
    with session(svc.engine) as s:
        (found,) = findings(s)
    return found


def test_an_operator_resolves_a_finding_with_a_note_and_it_is_audited(closing_today):
    svc = closing_today
    finding = _only_finding(svc)
    c = signed_in(svc, "ann", "operator")
    page = c.get("/changes")
    assert page.status_code == 200 and f'action="/changes/{finding["id"]}"' in page.text
    acked = c.post(
        f"/changes/{finding['id']}", data={"csrf": csrf_of(page.text), "action": "ack", "note": "calling HR"}
    )
    assert acked.status_code == 303 and acked.headers["location"].startswith("/changes?loan=LOST")
    page = c.get("/changes")
    assert "acknowledged by console:ann" in page.text
    done = c.post(
        f"/changes/{finding['id']}",
        data={"csrf": csrf_of(page.text), "action": "resolve", "note": "new employer verified"},
    )
    assert done.status_code == 303
    after = _only_finding(svc)
    assert (after["disposition"], after["disposition_note"], after["disposition_by"]) == (
        "resolved",
        "new employer verified",
        "console:ann",
    )
    with session(svc.engine) as s:
        kinds = ("finding_acknowledged", "finding_resolved")
        entries = s.execute(select(Event).where(Event.kind.in_(kinds)).order_by(Event.id)).scalars().all()
    assert [(e.kind, e.actor) for e in entries] == [
        ("finding_acknowledged", "console:ann"),
        ("finding_resolved", "console:ann"),
    ]
    assert json.loads(entries[-1].detail)["note"] == "new employer verified"
    assert f'action="/changes/{finding["id"]}"' not in c.get("/changes").text  # resolved: nothing left to do


def test_a_viewer_a_forged_token_or_an_empty_note_changes_nothing(closing_today):
    svc = closing_today
    finding = _only_finding(svc)
    viewer = signed_in(svc, "vic", "viewer")
    page = viewer.get("/changes")
    assert 'action="/changes/' not in page.text  # no form for a viewer
    refused = viewer.post(
        f"/changes/{finding['id']}", data={"csrf": csrf_of(page.text), "action": "resolve", "note": "x"}
    )
    assert refused.status_code == 403
    operator = signed_in(svc, "ann", "operator")
    forged = operator.post(f"/changes/{finding['id']}", data={"csrf": "forged", "action": "resolve", "note": "x"})
    assert forged.status_code == 403
    csrf = csrf_of(operator.get("/changes").text)
    empty = operator.post(f"/changes/{finding['id']}", data={"csrf": csrf, "action": "resolve", "note": "  "})
    assert empty.status_code == 400 and "--note" in empty.text
    unknown = operator.post("/changes/999999", data={"csrf": csrf, "action": "resolve", "note": "x"})
    assert unknown.status_code == 400 and "no such finding" in unknown.text
    assert _only_finding(svc)["disposition"] == "open"


def test_the_report_page_shows_each_loans_pre_closing_status(closing_today):
    svc = closing_today
    c = signed_in(svc, "vic", "viewer")
    page = c.get("/reports")
    assert page.status_code == 200
    table = page.text[page.text.index('id="pre-closing"') :]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    cells = [re.findall(r"<td>(.*?)</td>", r, flags=re.S) for r in rows]
    shown = {(re.sub(r"<[^>]+>", "", x[0]).strip(), x[1].strip()): x[5].strip() for x in cells if len(x) > 5}
    assert shown == {
        ("ASSETS", "voe"): "missing",
        ("ASSETS", "voa"): "verified",
        ("CLEAN", "voe"): "verified",
        ("LOST", "voe"): "verified_with_findings",
        ("UNCOVERED", "voe"): "not_covered",
    }
    same = c.get("/reports?from=2026-06-05&to=2026-06-05&format=page")
    assert same.status_code == 200 and "verified_with_findings" in same.text
    loan = c.get("/loans/ASSETS").text
    assert 'id="pre-closing"' in loan and "<td>missing</td>" in loan and "<td>voa</td>" in loan
