"""Loans waiting for someone: connections needing the borrower, loans set aside (`monitor reauth`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from monitor.render.safe import Table, cell, console

if TYPE_CHECKING:
    from monitor.reports.reauth_shapes import SetAsideLoan, WaitingConnection


def _waiting_table(title: str, what: tuple[str, str], rows: Sequence[Mapping[str, Any]]) -> Table:
    """Loans waiting for someone: one row each, with why and since when."""
    t = Table(title=title)
    for col in ("loan", "closing", what[0], "why", "since", "hours"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r["loan_id"],
            cell(r["closing_date"]),
            r[what[1]],
            r["reason"] or "-",
            cell(r["since"]),
            cell(r["for_hours"]),
        )
    return t


def print_reauth(rows: Sequence[WaitingConnection]) -> None:
    c = console()
    c.print(_waiting_table("connections needing the borrower (Bridge update mode)", ("token (hash)", "token"), rows))
    if not rows:
        c.print("none")


def print_set_aside(rows: Sequence[SetAsideLoan]) -> None:
    if rows:
        title = "loans set aside: a new Truv order (needs_new_order) or a person (manual_review)"
        console().print(_waiting_table(title, ("needs", "needs"), rows))
