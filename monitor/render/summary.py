"""A pass's summary as a table, and one policy's backlog after it as a sentence (`run`, `plan`, the demo)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor.render.safe import Table, console

if TYPE_CHECKING:
    from monitor.jobs.pass_summary import BacklogLine


def print_summary(summary: Any) -> None:
    d = summary.as_dict()
    c = console()
    if d["status"] == "lease_held":
        c.print(f"job {d['job']}: another pass holds the lease ({d['lease_holder']}); nothing done.")
        return
    title = f"{'plan' if d['dry_run'] else 'pass'} {d['run_id'][:12]} job={d['job']} status={d['status']}"
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("stale loans (all policies)", d["stale_total"]),
        ("selected", d["selected"]),
        ("would submit" if d["dry_run"] else "submitted", d["submitted"]),
        ("  of which partial (employers filter)", d["partial"]),
        *([("need order details first (1 GET each)", d["details_needed"])] if d["dry_run"] else []),
        ("completed", d["completed"]),
        ("needs borrower re-auth", d["needs_reauth"]),
        ("outcome unknown (reconciled next pass)", d["unknown"]),
        ("reconciled from earlier passes", d["reconciled"]),
        ("Truv requests", d["requests"]),
        ("429 received", d["throttled"]),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    for reason, count in d["skipped"].items():
        table.add_row(f"skipped: {reason}", str(count))
    for status, count in d["failed"].items():
        table.add_row(f"failed: {status}", str(count))
    c.print(table)
    if d.get("error"):
        c.print(f"error: {d['error']}")


def backlog_line(policy: str, line: BacklogLine) -> str:
    """One policy's backlog after a pass, in a sentence: what is left, what blocks the rest (`run`, the demo)."""
    blocked = ", ".join(f"{n} {reason}" for reason, n in line["blocked"].items())
    nights = line.get("nights_to_clear")
    clear = "" if not line["not_reached"] else f"; about {nights} night(s) to reach them" if nights else "; no capacity"
    return (
        f"backlog {policy}: {line['stale']} stale, {line['submitted']} submitted, "
        f"{line['not_reached']} not reached (max_refreshes){clear}" + (f"; blocked: {blocked}" if blocked else "")
    )
