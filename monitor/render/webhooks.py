"""`monitor webhooks status`: the stored webhook events counted by state, type and reason."""

from __future__ import annotations

from collections.abc import Mapping

from monitor.render.safe import Table, console


def print_webhooks(counts: Mapping[str, Mapping[str, int]]) -> None:
    """`monitor webhooks status`: one table per view of the stored events."""
    c = console()
    for key, title, what in (
        ("by_state", "webhooks by state", "state"),
        ("by_type", "webhooks by event type", "event type"),
        ("invalid_by_reason", "invalid webhooks (kept, never applied)", "reason"),
        ("rejected_by_reason", "rejected before storing (this process only)", "reason"),
    ):
        if key not in counts:
            continue
        t = Table(title=title)
        t.add_column(what)
        t.add_column("count", justify="right")
        for name, n in sorted(counts[key].items(), key=lambda kv: (-kv[1], kv[0])):
            t.add_row(name, str(n))
        if not counts[key]:
            t.add_row("none", "0")
        c.print(t)
    c.print(f"duplicate deliveries (applied once): {counts['duplicate_deliveries']['count']}", highlight=False)
