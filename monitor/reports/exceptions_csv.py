"""The compliance report's exceptions CSV: one row per loan and exception (kind, loan, detail, since or
at, next eligible or hours waiting), then the failures by status."""

from __future__ import annotations

from monitor.reports.cells import cell, hours
from monitor.reports.evidence_shapes import PreClosingRow
from monitor.reports.exception_shapes import Exceptions
from monitor.reports.safe_text import SafeCsvWriter


def write_exceptions(w: SafeCsvWriter, e: Exceptions) -> None:
    """The exceptions CSV: one row per loan and exception, then the counts."""
    for b in e["blocked"]:
        w.writerow(["blocked", b["loan_id"], b["rule"], cell(b["at"]), cell(b["next_eligible"])])
    for x in e["backlog"]["loans"]:
        w.writerow(["backlog", x["loan_id"], x["reason"], cell(x["data_as_of"]), ""])
    for p in e["persistent_skips"]:
        detail = f"{p['reason']} ({p['times']}x, policy {p['policy'] or '-'})"
        w.writerow(["persistent_skip", p["loan_id"], detail, cell(p["first"]), ""])
    for a in e["needs_reauth"]:
        waited = hours(a["waiting_seconds"])
        w.writerow(["needs_reauth", a["loan_id"], f"{a['reason']} ({a['connection']})", cell(a["since"]), waited])
    for h in e["set_aside"]:
        w.writerow([h["needs"], h["loan_id"], h["reason"], cell(h["since"]), ""])
    for c in e["closed_without_verification"]:
        w.writerow(["closed_unverified", c["loan_id"], _unverified(c), cell(c["closing_date"]), ""])
    for status, n in e["failures_by_status"].items():
        w.writerow(["failures", "", status, "", n])


def _unverified(c: PreClosingRow) -> str:
    detail = f"{c['evidence']} {c['status']} ({c['rule']})"
    if c["status"] in ("verified", "verified_with_findings"):
        detail += ": unresolved high or critical finding"
    return detail
