"""`monitor status`, `monitor ledger` and `monitor changes`: what the job did and spent, and what changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.context import (
    MAX_LIMIT,
    TzOption,
    parse_date,
    refuse_without_audit_key,
    root_options,
    tz_option,
)
from monitor.errors import InputError

if TYPE_CHECKING:
    pass


def status_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    tz: TzOption = "UTC",
) -> None:
    """Each job's last passes, the lease holder, next fire times, re-auth backlog and budget headroom."""
    from monitor.core.readable import dumps
    from monitor.render.status import print_status
    from monitor.reports.status import status

    zone = tz_option(tz)
    c = root_options(ctx)
    services = c.context(required=True)
    data = status(services, now=services.clock.now())
    if as_json:
        typer.echo(dumps(data, sort_keys=True))
    else:
        print_status(data, zone)


def ledger_cmd(
    ctx: typer.Context,
    loan: Annotated[str | None, typer.Option("--loan", help="Only this loan_id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=MAX_LIMIT, help="At most N rows in every section.")] = 200,
    exhausted: Annotated[bool, typer.Option("--exhausted", help="Only tokens and GSE loans at their limit.")] = False,
    token: Annotated[str | None, typer.Option("--token", help="Only tokens whose hash starts with this.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Reservations from this date (YYYY-MM-DD).")] = None,
    tz: TzOption = "UTC",
) -> None:
    """Reservations (the write-ahead ledger), use per token and per GSE loan, and when slots free."""
    from monitor.core.readable import dumps
    from monitor.core.staleness import start_of_day_utc
    from monitor.render.ledger import print_ledger, print_ledger_totals
    from monitor.reports.ledger_view import ledger_view

    zone = tz_option(tz)
    c = root_options(ctx)
    since_at = start_of_day_utc(parse_date(since, "--since")) if since else None
    services = c.context()
    view = ledger_view(
        services,
        loan_id=loan,
        limit=limit,
        now=services.clock.now(),
        exhausted=exhausted,
        token=token,
        since=since_at,
    )
    if as_json:
        typer.echo(dumps(view, sort_keys=True))
    else:
        print_ledger(view, zone)
        print_ledger_totals(view)


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
