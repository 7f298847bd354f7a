"""`monitor loans list`: one line per loan."""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import TYPE_CHECKING

from monitor.render.safe import Table, cell, console, zone_title

if TYPE_CHECKING:
    from monitor.reports.loan_shapes import LoanList


def print_loans(view: LoanList, tz: tzinfo = UTC) -> None:
    t = Table(title=f"loans ({zone_title(tz)}, now {cell(view['now'], tz)})")
    for col in ("loan", "status", "gse", "closing", "data date", "hold", "stale for", "last outcome", "last skip"):
        t.add_column(col)
    for r in view["loans"]:
        t.add_row(
            r["loan_id"],
            r["status"],
            "yes" if r["gse"] else "no",
            cell(r["closing_date"]),
            cell(r["data_as_of"], tz),
            r["hold_reason"] or r["hold"] or "-",
            ",".join(r["stale_for"]) or "-",
            cell(r["last_outcome"]),
            cell(r["last_skip_reason"]),
        )
    c = console()
    c.print(t)
    more = " (truncated: raise --limit)" if view["truncated"] else ""
    c.print(f"{len(view['loans'])} of {view['total']} loans{more}", highlight=False)
