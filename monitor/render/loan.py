"""`monitor loans show`: one loan's facts, what the next pass would do, and its connections."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING

from monitor.render.loan_history import findings_table, orders_table, outcomes_table, pre_closing_table, timeline_table
from monitor.render.safe import Table, cell, console, zone_title

if TYPE_CHECKING:
    from monitor.reports.loan_shapes import ConnectionView, Decision, LoanShow


def print_loan(view: LoanShow, tz: tzinfo = UTC) -> None:
    c = console()
    c.print(f"loan {view['loan']['loan_id']} ({zone_title(tz)}, now {cell(view['now'], tz)})", highlight=False)
    c.print(_loan_facts(view, tz))
    c.print(_decisions(view["decisions"], tz))
    c.print(_loan_connections(view["connections"], tz))
    c.print(orders_table(view["orders"], tz))
    c.print(outcomes_table(view["outcomes"], tz))
    if view["findings"]:
        c.print(findings_table(view["findings"], tz))
    if view.get("pre_closing"):
        c.print(pre_closing_table(view["pre_closing"], tz))
    c.print(timeline_table(view["timeline"], tz))


def _loan_facts(view: LoanShow, tz: tzinfo) -> Table:
    loan = view["loan"]
    facts = Table(show_header=False, title=zone_title(tz))
    facts.add_column("field")
    facts.add_column("value")
    hold = (
        "-"
        if loan["hold"] is None
        else f"{loan['hold']} ({loan['hold_reason'] or '-'}) since {cell(loan['hold_since'], tz)}"
    )
    for key, value in (
        ("gse", "yes" if loan["gse"] else "no"),
        ("status", loan["status"]),
        ("closing date", cell(loan["closing_date"])),
        ("order / original", f"{loan['order_id']} / {loan['original_order_id'] or '-'}"),
        ("data date (oldest connection)", cell(loan["data_as_of"], tz)),
        ("order read", cell(loan["details_fetched_at"], tz)),
        ("GSE window start", cell(loan["gse_window_start"], tz)),
        ("hold", hold),
        ("waits because", loan.get("attention") or "-"),
        ("attributes", ", ".join(f"{k}={v}" for k, v in sorted(loan["attributes"].items())) or "-"),
        ("policies matched", ", ".join(view["policies"]) or "none"),
        ("next eligible", cell(view["next_eligible"], tz)),
    ):
        facts.add_row(key, value)
    return facts


def _decisions(decisions: Sequence[Decision], tz: tzinfo) -> Table:
    dec = Table(title=f"what the next pass would do (max_refreshes not applied; {zone_title(tz)})")
    for col in ("policy", "product", "data date", "decision", "reason", "next eligible"):
        dec.add_column(col)
    for d in decisions:
        dec.add_row(
            d["policy"],
            d["product"],
            cell(d["data_as_of"], tz),
            d["decision"],
            d["reason"],
            cell(d["next_eligible"], tz),
        )
    return dec


def _loan_connections(connections: Sequence[ConnectionView], tz: tzinfo) -> Table:
    con = Table(title=f"connections (token hashes; use in the rolling 24 h; {zone_title(tz)})")
    for col in ("kind", "suborder", "token", "data date", "state", "uses", "next slot frees"):
        con.add_column(col)
    for x in connections:
        state = x["state"] or "-"
        if x["reason"]:
            state += f" ({x['reason']})"
        con.add_row(
            x["kind"],
            x["suborder_id"],
            x["token"],
            cell(x["data_as_of"], tz),
            state,
            f"{x['uses_24h']}/{x['limit']}",
            cell(x["next_slot_frees"], tz),
        )
    return con
