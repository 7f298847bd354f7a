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
from monitor.reports.cells import cells, closing_cell, zone_of_cells
from monitor.reports.compliance_html import render_html
from monitor.reports.compliance_shapes import CHANGE_COLUMNS, LOAN_COLUMNS, Report
from monitor.reports.exceptions_csv import write_exceptions
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
        write_exceptions(w, report["exceptions"])
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
