"""`monitor changes`: income monitoring's findings, and `ack` / `resolve` one with a note."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.context import parse_date, refuse_without_audit_key, root_options
from monitor.errors import InputError

changes_app = typer.Typer(
    help="Income monitoring's findings; `ack` / `resolve` one with a note.", invoke_without_command=True
)


@changes_app.command("ack")
def changes_ack(
    ctx: typer.Context,
    finding_id: Annotated[int, typer.Argument(help="The finding's id (`monitor changes` lists them).")],
    note: Annotated[str, typer.Option("--note", help="What is being done about it (required).")],
) -> None:
    """Acknowledge a finding: seen, being looked at. Still unresolved (audited, with who and when)."""
    _dispose(ctx, finding_id, "ack", note)


@changes_app.command("resolve")
def changes_resolve(
    ctx: typer.Context,
    finding_id: Annotated[int, typer.Argument(help="The finding's id (`monitor changes` lists them).")],
    note: Annotated[str, typer.Option("--note", help="How it was resolved (required).")],
) -> None:
    """Resolve a finding with a note: it no longer makes its loan a pre-closing exception (audited)."""
    _dispose(ctx, finding_id, "resolve", note)


def _dispose(ctx: typer.Context, finding_id: int, action: str, note: str) -> None:
    from monitor.jobs.disposition import checked_note, dispose_finding

    checked_note(note)  # a bad note is exit 2 before the database is opened
    context = root_options(ctx).context()
    refuse_without_audit_key(context)
    done = dispose_finding(context, finding_id, action=action, note=note)
    typer.echo(
        f"finding {finding_id} ({done['loan_id']}, {done['rule']}, {done['severity']}): "
        f"{done['disposition']} by {done['disposition_by']}: {done['disposition_note']}"
    )


@changes_app.callback()
def changes_cmd(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option("--since", help="Only findings detected on or after this date (YYYY-MM-DD).")
    ] = None,
    loan: Annotated[str | None, typer.Option("--loan", help="Only this loan_id.")] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", help="Only this severity or worse: medium, high or critical.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of findings.")] = False,
) -> None:
    """What changed since each loan's last verification: job loss, employer change, income drop,
    pay change, missed pay, unverified refreshes (income monitoring; see docs/income-monitoring.md), each
    with its id and disposition. `monitor changes ack|resolve ID --note TEXT` records an operator's word."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import UTC, datetime

    from monitor.core.changes import severities_from
    from monitor.core.readable import dumps
    from monitor.render.changes import print_changes
    from monitor.store.db import read_only, session
    from monitor.store.monitoring import findings

    wanted = None
    if severity is not None:
        try:
            wanted = severities_from(severity)
        except ValueError as exc:
            raise InputError("--severity", "", str(exc)) from None
    start = None
    if since is not None:
        d = parse_date(since, "--since")
        start = datetime(d.year, d.month, d.day, tzinfo=UTC)
    c = root_options(ctx)
    services = c.context()
    with session(read_only(services.engine)) as s:
        rows = findings(s, since=start, loan_id=loan, severities=wanted)
    if as_json:
        typer.echo(dumps(rows, sort_keys=True))
    else:
        print_changes(rows)
