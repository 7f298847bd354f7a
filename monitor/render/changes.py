"""`monitor changes`: what changed since the last verification, and how each finding was disposed of."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING

from monitor.render.safe import Table, cell, console

if TYPE_CHECKING:
    from monitor.store.handoff_payloads import FindingDict


def print_changes(rows: Sequence[FindingDict]) -> None:
    c = console()
    t = Table(title="changes since the last verification (times UTC)")
    cols = ("id", "detected", "loan", "rule", "severity", "employment", "field", "before", "after", "refresh order")
    for col in (*cols, "disposition"):
        t.add_column(col)
    for r in rows:
        severity = r["severity"] + (" (probable)" if r.get("confidence") == "probable" else "")
        t.add_row(
            str(r["id"]),
            cell(r["detected_at"]),
            r["loan_id"],
            r["rule"],
            severity,
            cell(r["employment_id"])[:12],
            cell(r["field"]),
            cell(r["before"]),
            cell(r["after"]),
            (r["order_id"] or "-")[:12],
            disposition_text(r),
        )
    c.print(t)
    if not rows:
        c.print("none")


def disposition_text(finding: Mapping[str, object], tz: tzinfo = UTC) -> str:
    """`open`, or `resolved by operator:ann@host 2026-06-05 12:00: note`."""
    by = finding.get("disposition_by", finding.get("by"))
    if by is None:
        return str(finding.get("disposition") or "open")
    when = cell(finding.get("disposition_at", finding.get("at")), tz)
    note = finding.get("disposition_note", finding.get("note"))
    return f"{finding['disposition']} by {by} {when}: {note}"
