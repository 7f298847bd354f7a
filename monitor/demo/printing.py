"""The demo told on the terminal: the history, tonight's pass, each loan, the ledger, one loan in full,
the changes found, and the commands to look around."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from monitor.demo.book import MONITORED, SHOWN_LOAN
from monitor.demo.tables import LoanLine, ReauthLine, loans_table, reauth_table
from monitor.jobs.pass_summary import PassSummary
from monitor.render.ledger import print_ledger
from monitor.render.loan import print_loan
from monitor.render.summary import backlog_line, print_summary
from monitor.reports.ledger_shapes import LedgerView
from monitor.reports.loan_shapes import LoanShow


def print_demo(
    directory: Path,
    history: list[PassSummary],
    result: PassSummary,
    lines: list[LoanLine],
    reauth: list[ReauthLine],
    view: LedgerView,
    webhooks: dict[str, int],
    loan_view: LoanShow,
) -> None:
    c = Console(soft_wrap=False, width=max(100, Console().width))
    c.print(f"monitor demo: SQLite at {directory / 'demo.db'}, the built-in Truv sandbox, simulated time.\n")
    c.print("History: five weekly monitoring passes (GSE loan L-1004, and the income-monitoring loans L-2001..L-2005):")
    for h in history:
        skipped = ", ".join(f"{k} {v}" for k, v in h.skipped.items()) or "none"
        c.print(f"  {h.started_at:%Y-%m-%d}  submitted {h.submitted}, skipped: {skipped}")
    c.print("\nTonight's nightly pass:")
    print_summary(result)
    for policy, line in result.backlog.items():
        c.print(backlog_line(policy, line), highlight=False, soft_wrap=True)
    c.print(
        "(On a long `monitor run` or `loans import`, progress shows as a bar on a terminal, otherwise as a "
        "structured line every 30 s.)",
        soft_wrap=True,
    )
    _print_tonight(c, result, lines, reauth, webhooks)
    c.print(loans_table(lines))
    c.print(reauth_table(reauth))
    print_ledger(view)
    c.print(f"\nOne loan, and why: monitor loans show {SHOWN_LOAN} (--tz America/New_York for local times, --json)")
    print_loan(loan_view)


def _print_tonight(
    c: Console,
    result: PassSummary,
    lines: list[LoanLine],
    reauth: list[ReauthLine],
    webhooks: dict[str, int],
) -> None:
    """Tonight's outcomes: what the pass counted, and what arrived by webhook after it."""
    outcomes = Counter(row["outcome"] for row in lines if row["outcome"] != "-")
    if result.completed < outcomes.get("completed", 0):
        # The pass ends once Truv has accepted its refreshes; their outcomes come later, by webhook.
        c.print(
            f"The pass counted {result.completed} completed: it ends when Truv accepts its refreshes, and their "
            "outcomes arrive afterwards, by webhook (below), or at the next pass's poll."
        )
    arrived = ", ".join(f"{state} {n}" for state, n in sorted(webhooks.items()))
    c.print(f"Outcomes arrived by webhook ({sum(webhooks.values())} signed events, verified and stored: {arrived}).")
    failed = {k: v for k, v in outcomes.items() if k != "completed"}
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(result.skipped.items()))
    c.print(
        f"Tonight: submitted {result.submitted}, completed {outcomes.get('completed', 0)}, failed {sum(failed.values())} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(failed.items()))}); skipped: {skipped}; "
        f"needing the borrower: {len(reauth)}.\n"
    )


def print_changes(changes: Sequence[Mapping[str, object]]) -> None:
    c = Console(soft_wrap=False, width=max(100, Console().width))
    c.print("\nIncome monitoring: each refresh's report compared with the connection's previous one:")
    shows = {loan_id: what for loan_id, what, _ in MONITORED}
    t = Table(title="changes found (monitor changes)")
    for col in ("loan", "scripted in the sandbox", "rule", "severity", "field", "before", "after", "found"):
        t.add_column(col)
    for f in changes:
        t.add_row(
            str(f["loan_id"]),
            shows.get(str(f["loan_id"]), "-"),
            str(f["rule"]),
            f"{f['severity']}{' (probable)' if f['confidence'] == 'probable' else ''}",
            str(f["field"] or "-"),
            str(f["before"] or "-"),
            str(f["after"] or "-"),
            f"{f['detected_at']:%Y-%m-%d}",
        )
    c.print(t)


def print_looks(directory: Path, first: datetime, tonight: datetime) -> None:
    """Last: the commands to look around the demo's database, the console among them."""
    c = Console()
    cfg = directory / "jobs.yaml"
    c.print("\nLook around (the demo's database stays until the next demo):")
    report = f"report --from {first:%Y-%m-%d} --to {tonight:%Y-%m-%d} --out {directory / 'report.html'}"
    looks = ("changes", "reauth list", "loans list --stale", "ledger --loan L-1004", "status", "audit verify", report)
    for command in looks:
        c.print(f"  monitor --config {cfg} {command}", soft_wrap=True)
    # The same database in a browser: the console needs a user first (it never serves signed out).
    c.print(
        f"  monitor --config {cfg} console add-user me --role operator && monitor --config {cfg} console",
        soft_wrap=True,
    )
