"""`monitor status` and `monitor ledger`: what the job did and what it spent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.context import (
    MAX_LIMIT,
    TzOption,
    parse_date,
    root_options,
    tz_option,
)

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
