"""`monitor status`: each job's next fire times, lease, last passes and backlog per policy, and the budgets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Any

from monitor.core.readable import count_lines
from monitor.render.safe import Table, cell, console, zone_title

if TYPE_CHECKING:
    from monitor.reports.status_shapes import JobBacklog, RunLine, StatusView


def print_status(data: StatusView, tz: tzinfo = UTC) -> None:
    c = console()
    c.print(f"now {cell(data['now'], tz)} ({zone_title(tz)})", highlight=False)
    for job in data["jobs"]:
        lease = job["lease"]
        c.print(
            f"job {job['job']} ({job['schedule']}); next: "
            + (", ".join(cell(t, tz) for t in job["next_fire_times"]) or "-")
            + (
                f"; lease held by {lease['holder']} until {cell(lease['expires_at'], tz)}"
                if lease
                else "; no pass running"
            ),
            highlight=False,
        )
        c.print(_passes(job["last_passes"], tz))
        if job.get("backlog"):
            c.print(_backlog(job["backlog"]))
    b = data["budget"]
    c.print(
        f"connections needing re-auth: {data['connections_needing_reauth']}; tokens at the 24 h limit: "
        f"{b['tokens_at_24h_limit']} (Truv-blocked {b['tokens_blocked_by_truv']}); GSE loans with no free re-verification left: "
        f"{b['gse_loans_at_90d_limit']}"
    )


def _passes(passes: Sequence[RunLine], tz: tzinfo) -> Table:
    """The last passes: failed and skipped as `reason count` lines, biggest first."""
    t = Table(show_header=True, title=f"last passes ({zone_title(tz)})")
    for col in ("run", "status", "started", "finished", "submitted", "completed", "failed", "skipped"):
        t.add_column(col)
    for r in passes:
        t.add_row(
            r["run_id"][:12],
            r["status"],
            cell(r["started_at"], tz),
            cell(r["finished_at"], tz),
            cell(r["submitted"]),
            cell(r["completed"]),
            count_lines(r["failed"]),
            count_lines(r["skipped"]),
        )
    return t


def _counts_cell(value: Any) -> str:
    """A number, or a reason -> count mapping as lines."""
    return count_lines(value) if isinstance(value, dict) else cell(value)


def _backlog(backlog: JobBacklog) -> Table:
    """Per policy: what is stale, what a pass would take, what holds the rest, what the last pass left."""
    t = Table(title=f"backlog per policy (a pass can take about {cell(backlog.get('capacity_per_night'))} a night)")
    for col in ("policy", "stale", "waiting", "in flight", "backoff", "held", "last pass", "nights to clear"):
        t.add_column(col)
    for name, b in backlog.get("policies", {}).items():
        last = b.get("last_pass") or {}
        # `not_reached N`, then the blocked reasons as lines; an empty mapping says nothing.
        left = "\n".join(
            count_lines(v) if isinstance(v, dict) else f"{k} {cell(v)}" for k, v in last.items() if v != {}
        )
        t.add_row(
            name,
            cell(b.get("stale")),
            cell(b.get("waiting")),
            cell(b.get("in_flight")),
            cell(b.get("retry_backoff")),
            _counts_cell(b.get("held")),
            left or "-",
            cell(b.get("nights_to_clear")),
        )
    return t
