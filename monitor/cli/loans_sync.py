"""`monitor loans sync`: learn the book from Truv's order list."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from monitor.cli.context import refuse_without_audit_key, root_options


def loans_sync(
    ctx: typer.Context,
    full: Annotated[
        bool,
        typer.Option("--full", help="Walk Truv's whole order list, not only the orders changed since the last sync."),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object: pages, orders_seen, loans_learned, loans_read_singly, requests, "
            "updated_since, complete, filter_ignored.",
        ),
    ] = False,
) -> None:
    """Learn the loans' connections and data dates from Truv's order list, a page of orders per call.

    After `loans import` of a new book (loans without data_as_of), one sync reads every order in
    pages of up to 100 instead of one call per loan: 100,000 loans take about 1,000 calls (under
    4 minutes at Truv's 300 a minute). Each order is matched to the imported loans by order id and
    recorded as `monitor run` would record a single read of it (each connection dated by the order's
    completed_at). The next sync reads only the orders updated since the last one began (less an
    hour's overlap); --full reads them all again. Loans the list cannot serve (e.g. imported with a
    refresh order's id) have their orders read one by one. `monitor run` syncs by itself when many
    loans lack details. Needs TRUV_CLIENT_ID and TRUV_SECRET; calls are paced like every other call.
    """
    from monitor.app import connect
    from monitor.jobs.order_sync import OrderSync
    from monitor.progress import for_terminal

    c = root_options(ctx)
    context = c.context(required=True)
    refuse_without_audit_key(context)
    services = connect(context, c.settings)
    progress = for_terminal(services.clock, "sync pages", sys.stderr)
    summary = OrderSync(services, full=full, progress=progress).run()
    out = summary.as_dict()
    if as_json:
        typer.echo(json.dumps(out))
    if summary.busy_with is not None:
        typer.echo(f"error: another sync is walking the order list ({summary.busy_with}); try again later", err=True)
        raise typer.Exit(1)
    if as_json:
        return
    since = f"orders updated since {out['updated_since']}" if summary.updated_since else "every order"
    typer.echo(
        f"synced {since}: {summary.pages} pages, {summary.orders_seen} orders, "
        f"{summary.loans_learned} loans learned from the list, {summary.loans_read_singly} read one by one; "
        f"{summary.requests} calls to Truv"
    )
    if summary.filter_ignored:
        typer.echo("note: Truv did not apply the updated-since filter; the whole list was read", err=True)
