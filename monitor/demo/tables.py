"""What happened to each demo loan tonight, and the connections needing the borrower: rows and their tables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypedDict

from rich.table import Table

from monitor.demo.book import LOANS, MONITORED
from monitor.services import Services
from monitor.store.demo_reads import PassEvent, connections_needing_reauth, outcomes_by_reservation, run_events


class LoanLine(TypedDict):
    loan_id: str
    shows: str
    decision: str
    outcome: str


class ReauthLine(TypedDict):
    loan_id: str
    token: str
    reason: str | None
    since: datetime | None


def per_loan(services: Services, run_id: str) -> list[LoanLine]:
    """What happened to each demo loan tonight, from the event record."""
    events = run_events(services.engine, run_id)
    outcomes = outcomes_by_reservation(services.engine)
    shown = [(loan_id, what) for loan_id, what, *_ in LOANS] + [(loan_id, what) for loan_id, what, _ in MONITORED]
    rows: list[LoanLine] = []
    for loan_id, what in shown:
        decision, outcome = _told([e for e in events if e.loan_id == loan_id], outcomes)
        rows.append({"loan_id": loan_id, "shows": what, "decision": decision, "outcome": outcome})
    return rows


def _told(mine: list[PassEvent], outcomes: dict[str | None, str | None]) -> tuple[str, str]:
    """(decision, outcome) from one loan's events, the last of each kind winning."""
    decision, outcome = "not selected (fresh)", "-"
    for e in mine:
        if e.kind == "skipped":
            decision = _skipped(e.detail)
        elif e.kind == "reserved":
            decision = "refreshed" + (" (partial: employers filter)" if e.detail.get("partial") else "")
        elif e.kind == "submitted":
            outcome = outcomes.get(e.reservation_id) or "pending"
    return decision, outcome


def _skipped(detail: Mapping[str, object]) -> str:
    frees = detail.get("next_free_at")
    return f"skipped: {detail.get('reason')}" + (f" (frees {str(frees)[:16]})" if frees else "")


def reauth_lines(services: Services) -> list[ReauthLine]:
    return [
        {"loan_id": r.loan_id, "token": r.token_hash[:12], "reason": r.reason, "since": r.since}
        for r in connections_needing_reauth(services.engine)
    ]


def loans_table(lines: list[LoanLine]) -> Table:
    t = Table(title="per loan, tonight")
    for col in ("loan", "shows", "decision", "outcome"):
        t.add_column(col)
    for row in lines:
        t.add_row(row["loan_id"], row["shows"], row["decision"], row["outcome"])
    return t


def reauth_table(reauth: list[ReauthLine]) -> Table:
    r = Table(title="connections needing the borrower (Bridge update mode)")
    for col in ("loan", "token (hash)", "why", "since"):
        r.add_column(col)
    for row in reauth:
        r.add_row(
            row["loan_id"],
            row["token"],
            row["reason"] or "-",
            f"{row['since']:%Y-%m-%d %H:%M}" if row["since"] else "-",
        )
    return r
