"""`monitor ledger`: reservations, use per access token, GSE re-verifications per loan, and what --limit left out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING

from monitor.render.safe import Table, cell, console, zone_title

if TYPE_CHECKING:
    from monitor.reports.ledger_shapes import GseLoanRow, LedgerView, TokenRow


def print_ledger(view: LedgerView, tz: tzinfo = UTC) -> None:
    c = console()
    c.print(_reservations(view, tz))
    c.print(_token_use(view["tokens"], tz))
    c.print(_gse_use(view["gse_loans"], tz))


def _reservations(view: LedgerView, tz: tzinfo) -> Table:
    res = Table(title=f"reservations, newest first ({zone_title(tz)}, now {cell(view['now'], tz)})")
    for col in ("loan", "product", "tokens", "state", "outcome", "reserved", "refresh order", "report ids", "billable"):
        res.add_column(col)
    for r in view["reservations"]:
        res.add_row(
            r["loan_id"],
            r["product"],
            ",".join(r["tokens"]),
            r["state"],
            cell(r["outcome"]),
            cell(r["reserved_at"], tz),
            (r["refresh_order_id"] or "-")[:12],
            " ".join(x for x in (r.get("voie_report_id"), r.get("voa_report_id")) if x) or "-",
            "yes" if r["billable"] else "no",
        )
    return res


def _token_use(tokens: Sequence[TokenRow], tz: tzinfo) -> Table:
    tok = Table(title=f"use per access token (rolling 24 h; hashes, never tokens; {zone_title(tz)})")
    for col in ("token", "used", "limit", "exhausted", "next slot frees", "Truv blocked until"):
        tok.add_column(col)
    for t in tokens:
        tok.add_row(
            t["token"],
            str(t["used_24h"]),
            str(t["limit"]),
            "yes" if t["exhausted"] else "no",
            cell(t["next_slot_frees"], tz),
            cell(t["truv_blocked_until"], tz),
        )
    return tok


def _gse_use(loans: Sequence[GseLoanRow], tz: tzinfo) -> Table:
    gse = Table(title=f"GSE free re-verifications per loan (90 days from the original order; {zone_title(tz)})")
    for col in ("loan", "window ends", "used", "limit", "free left", "exhausted"):
        gse.add_column(col)
    for g in loans:
        gse.add_row(
            g["loan_id"],
            cell(g["window_ends"], tz) if g["in_window"] else f"ended {cell(g['window_ends'], tz)}: billable",
            str(g["used_in_window"]),
            str(g["limit"]),
            str(g["free_left"]),
            "yes" if g["exhausted"] else "no",
        )
    return gse


def print_ledger_totals(view: LedgerView) -> None:
    """One line saying what `--limit` and the filters left out of the ledger tables."""
    totals, cut = view["totals"], view["truncated"]
    tables = (
        ("reservations", len(view["reservations"]), totals["reservations"], cut["reservations"]),
        ("tokens", len(view["tokens"]), totals["tokens"], cut["tokens"]),
        ("GSE loans", len(view["gse_loans"]), totals["gse_loans"], cut["gse_loans"]),
    )
    parts = [
        f"{label} {shown} of {total}" + (" (truncated: raise --limit)" if truncated else "")
        for label, shown, total, truncated in tables
    ]
    console().print("shown: " + "; ".join(parts), highlight=False)
