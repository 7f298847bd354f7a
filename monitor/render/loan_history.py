"""One loan's history for `monitor loans show`: pre-closing evidence, orders, refreshes, findings, audit timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING

from monitor.render.changes import disposition_text
from monitor.render.safe import Table, cell, zone_title

if TYPE_CHECKING:
    from monitor.reports.evidence_shapes import PreClosingRow
    from monitor.reports.loan_shapes import OrderView, OutcomeView, TimelineEntry


def pre_closing_table(rows: Sequence[PreClosingRow], tz: tzinfo) -> Table:
    t = Table(title=f"pre-closing evidence ({zone_title(tz)})")
    for col in ("evidence", "rule", "status", "exception", "order", "product", "report id", "data as of", "findings"):
        t.add_column(col, no_wrap=col in ("status", "exception"), min_width=22 if col == "status" else None)
    for r in rows:
        found = "; ".join(f"{f['id']} {f['rule']} {disposition_text(f, tz)}" for f in r["findings"]) or "-"
        t.add_row(
            r["evidence"],
            cell(r["rule"]),
            r["status"],
            "yes" if r["exception"] else "no",
            cell(r["order_id"]),
            cell(r["product"]),
            cell(r["report_id"]),
            cell(r["data_as_of"], tz),
            found,
        )
    return t


def orders_table(orders: Sequence[OrderView], tz: tzinfo) -> Table:
    table = Table(title=f"orders ({zone_title(tz)})")
    for col in ("order", "refresh of", "products", "created", "VOIE report", "VOA report"):
        table.add_column(col)
    for o in orders:
        table.add_row(
            o["id"],
            o["initial_order"] or "-",
            o["products"],
            cell(o["created_at"], tz),
            cell(o["voie_report_id"]),
            cell(o["voa_report_id"]),
        )
    return table


def outcomes_table(outcomes: Sequence[OutcomeView], tz: tzinfo) -> Table:
    out = Table(title=f"refreshes, newest first ({zone_title(tz)})")
    for col in ("policy", "state", "outcome", "reserved", "refresh order"):
        out.add_column(col)
    for r in outcomes:
        out.add_row(
            r["policy"], r["state"], cell(r["outcome"]), cell(r["reserved_at"], tz), cell(r["refresh_order_id"])
        )
    return out


def findings_table(findings: Sequence[Mapping[str, object]], tz: tzinfo) -> Table:
    fnd = Table(title=f"findings ({zone_title(tz)})")
    for col in ("id", "detected", "rule", "severity", "field", "before", "after", "disposition"):
        fnd.add_column(col)
    for f in findings:
        cells = (cell(f.get(k), tz) for k in ("detected_at", "rule", "severity", "field", "before", "after"))
        fnd.add_row(str(f["id"]), *cells, disposition_text(f, tz))
    return fnd


def timeline_table(timeline: Sequence[TimelineEntry], tz: tzinfo) -> Table:
    tl = Table(title=f"audit timeline, newest first ({zone_title(tz)})")
    for col in ("at", "kind", "detail"):
        tl.add_column(col)
    for e in timeline:
        detail = e["detail"]
        text = ", ".join(f"{k}={v}" for k, v in detail.items()) if isinstance(detail, dict) else str(detail)
        tl.add_row(cell(e["at"], tz), e["kind"], text[:100])
    return tl
