"""Writing the compliance report: JSON (as built), CSV (the loans, then the exceptions, changes and
pre-closing evidence beside it) or HTML. Every CSV cell is neutralised: the files open in spreadsheets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, tzinfo
from pathlib import Path

from monitor.core.readable import json_default
from monitor.reports import evidence
from monitor.reports.cells import cell, cells, closing_cell, hours, zone_of_cells
from monitor.reports.compliance_html import render_html
from monitor.reports.compliance_shapes import CHANGE_COLUMNS, LOAN_COLUMNS, Report
from monitor.reports.evidence_shapes import PreClosingRow
from monitor.reports.exception_shapes import Exceptions
from monitor.reports.safe_text import SafeCsvWriter, csv_writer


def write(report: Report, fmt: str, out: Path, *, zone: tzinfo = UTC) -> list[Path]:
    """Write the report under `out`, its CSV and HTML times in `zone`; an OSError (a path that cannot
    take a file) leaves no temporary file behind and reaches the caller, which names the path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    try:
        with zone_of_cells(zone):
            written = _write(report, fmt, out, tmp)
        tmp.replace(out)  # a half-written report never stands under the final name
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return written


def _write(report: Report, fmt: str, out: Path, tmp: Path) -> list[Path]:
    if fmt == "json":
        tmp.write_text(json.dumps(report, default=json_default, indent=2, sort_keys=True), encoding="utf-8")
        return [out]
    if fmt != "csv":
        tmp.write_text(render_html(report), encoding="utf-8")
        return [out]
    beside = [out.with_name(out.stem + suffix) for suffix in ("-exceptions.csv", "-changes.csv", "-preclosing.csv")]
    with _csv(tmp) as w:
        w.writerow(LOAN_COLUMNS)
        w.writerows(cells(row, LOAN_COLUMNS) for row in report["loans"])
    with _csv(beside[0]) as w:
        w.writerow(["kind", "loan_id", "detail", "since_or_at", "next_eligible_or_waiting_hours"])
        _write_exceptions(w, report["exceptions"])
    with _csv(beside[1]) as w:
        w.writerow(CHANGE_COLUMNS)
        w.writerows(cells(f, CHANGE_COLUMNS) for f in report["changes"]["findings"])
    with _csv(beside[2]) as w:
        w.writerow(evidence.PRE_CLOSING_COLUMNS)
        w.writerows([closing_cell(c, k) for k in evidence.PRE_CLOSING_COLUMNS] for c in report["pre_closing"])
    return [out, *beside]


@contextmanager
def _csv(path: Path) -> Iterator[SafeCsvWriter]:
    with path.open("w", newline="", encoding="utf-8") as handle:
        yield csv_writer(handle)


def _write_exceptions(w: SafeCsvWriter, e: Exceptions) -> None:
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
