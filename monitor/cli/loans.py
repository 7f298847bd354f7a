"""`monitor loans`: import the book, look at a loan, hold and release it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli.context import (
    MAX_LIMIT,
    RootOptions,
    TzOption,
    one_of,
    refuse_without_audit_key,
    root_options,
    tz_option,
)
from monitor.config import JobsFile
from monitor.errors import InputError

if TYPE_CHECKING:
    pass

loans_app = typer.Typer(help="Import and inspect the loans monitor keeps fresh.", no_args_is_help=True)


def _declared(c: RootOptions, config: JobsFile, file: Path) -> Any:
    """What `loans import` accepts beyond the known columns: jobs.yaml's `loans.attributes`."""
    from monitor.loans_file import Declared

    hint = (
        "" if c.config_path.exists() else f" ({c.config_path} does not exist: `monitor init --from {file}` writes one)"
    )
    return Declared(frozenset(config.loans.attributes), str(c.config_path), hint)


@loans_app.command("import")
def loans_import(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (header row) or JSONL file: loan_id, order_id, gse, status, closing_date, data_as_of, plus any attribute columns."
        ),
    ],
    full_snapshot: Annotated[
        bool,
        typer.Option("--full-snapshot", help="The file lists every active loan: loans not in it are marked closed."),
    ] = False,
    max_close: Annotated[
        float,
        typer.Option(
            "--max-close",
            min=0,
            max=100,
            metavar="PERCENT",
            help="With --full-snapshot: refuse a file that would close more than this share of the active loans.",
        ),
    ] = 10.0,
    force: Annotated[
        bool, typer.Option("--force", help="With --full-snapshot: import an empty file or pass --max-close anyway.")
    ] = False,
    dedupe: Annotated[
        str | None,
        typer.Option(
            "--dedupe",
            callback=lambda value: None if value is None else one_of("first", "last")(value),
            metavar="first|last",
            help="A loan_id on several rows: import its first (or last) row only, and say how many were dropped.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Upsert loans by loan_id. One bad row stops the import; nothing is changed (exit 2).

    Repeated loan_ids are all listed at once (the first 20 and how many); --dedupe keeps one row of each.

    A --full-snapshot that is empty, or would close more than --max-close of the active loans, is
    refused the same way unless --force.
    """
    from monitor.loans_file import read_rows
    from monitor.progress import counted, for_terminal
    from monitor.store.db import session
    from monitor.store.loan_import import import_loans
    from monitor.store.loan_import_rows import FUTURE_ALLOWANCE, RepeatedLoanId
    from monitor.store.loan_repeats import Repeats, find_repeats

    c = root_options(ctx)
    services = c.context()
    refuse_without_audit_key(services)
    declared = _declared(c, services.config, file)
    now = services.clock.now()
    repeats = Repeats()
    if dedupe is not None:  # one more read of the file, into a temporary table: which row of each to keep
        with session(services.engine) as s:
            repeats = find_repeats(s, read_rows(file, declared), rule="last" if dedupe == "last" else "first")
    progress = for_terminal(services.clock, f"import {file.name}", sys.stderr)
    progress.expect(_data_lines(file))
    try:
        with session(services.engine) as s:
            result = import_loans(
                s,
                counted(repeats.kept(read_rows(file, declared)), progress),
                now=now,
                full_snapshot=full_snapshot,
                source=str(file),
                max_close=max_close / 100,
                force=force,
                not_after=now + FUTURE_ALLOWANCE,
            )
            from monitor.store.audit_details import LoansImported
            from monitor.store.ledger import add_event

            add_event(
                s,
                at=now,
                kind="loans_imported",
                detail=LoansImported(
                    file=str(file),
                    rows=result.rows,
                    inserted=result.inserted,
                    updated=result.updated,
                    closed=result.closed,
                    full_snapshot=full_snapshot,
                    forced=force and full_snapshot,
                    dedupe=dedupe,
                    dropped=repeats.rows,
                ),
            )
    except RepeatedLoanId:
        # Rolled back. Read the file once more to name every repeat, not one per run.
        with session(services.engine) as s:
            every = find_repeats(s, read_rows(file, declared))
        raise every.error(str(file)) from None
    out = {
        "file": str(file),
        "rows": result.rows,
        "inserted": result.inserted,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "closed": result.closed,
        **({"dropped": repeats.rows, "dedupe": dedupe} if dedupe else {}),
    }
    if as_json:
        typer.echo(json.dumps(out))
    else:
        typer.echo(
            f"{file}: {result.rows} loans ({result.inserted} new, {result.updated} updated, "
            f"{result.unchanged} unchanged"
            + (f", {result.closed} closed as absent" if full_snapshot else "")
            + ")"
            + (f"; {repeats.rows} repeated rows dropped, the {dedupe} of each kept" if dedupe else "")
        )


@loans_app.command("sync")
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


def _data_lines(path: Path) -> int:
    """About how many loans a file holds, for the progress total (a quoted newline counts twice)."""
    try:
        with path.open("rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return 0  # read_rows says what is wrong with the file
    return max(lines - (0 if path.suffix.lower() == ".jsonl" else 1), 0)


@loans_app.command("show")
def loans_show(
    ctx: typer.Context,
    loan_id: Annotated[str, typer.Argument(help="The loan_id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    tz: TzOption = "UTC",
) -> None:
    """One loan: policies matched, connections and budget use, what the next pass would do and why, orders, outcomes, findings, audit."""
    from monitor.core.readable import dumps
    from monitor.render import print_loan
    from monitor.reports.loan_view import loan_show

    zone = tz_option(tz)
    c = root_options(ctx)
    services = c.context()
    view = loan_show(services, loan_id, now=services.clock.now())
    if as_json:
        typer.echo(dumps(view, sort_keys=True))
    else:
        print_loan(view, zone)


@loans_app.command("hold")
def loans_hold(
    ctx: typer.Context,
    loan_id: Annotated[str, typer.Argument(help="The loan_id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record and `loans show` (required).")],
) -> None:
    """Set a loan aside until someone releases it: no pass refreshes it (audited, with who and why)."""
    _hold_or_release(ctx, loan_id, reason, hold=True)


@loans_app.command("release")
def loans_release(
    ctx: typer.Context,
    loan_id: Annotated[str, typer.Argument(help="The loan_id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record (required).")],
) -> None:
    """Release a loan set aside (by an operator, a 403, refusals, a finalized order) and any wait it has.

    The next pass reads its order again first. Audited, with who and why."""
    _hold_or_release(ctx, loan_id, reason, hold=False)


def _hold_or_release(ctx: typer.Context, loan_id: str, reason: str, *, hold: bool) -> None:
    from monitor.store import loan_refresh
    from monitor.store.db import session

    why = reason.strip()
    if not why or not why.isprintable():
        raise InputError("--reason", "", "expected a short printable text saying why")
    c = root_options(ctx)
    context = c.context()
    refuse_without_audit_key(context)
    now = context.clock.now()
    with session(context.engine) as s:
        if hold:
            done = loan_refresh.hold_by_operator(s, loan_id, why=why, now=now)
            before = None
        else:
            before = loan_refresh.release(s, loan_id, why=why, now=now)
            done = before is not None
    if not done:
        raise InputError("loan", loan_id, "no such loan; see `monitor loans list`")
    if hold:
        typer.echo(f"{loan_id}: held (manual_review, operator_hold): {why}")
    elif before is not None and before[0] is not None:
        typer.echo(f"{loan_id}: released from {before[0]} ({before[1] or '-'}); the next pass reads its order again")
    else:
        typer.echo(f"{loan_id}: was not held; any wait cleared, the next pass reads its order again")


@loans_app.command("list")
def loans_list(
    ctx: typer.Context,
    stale: Annotated[bool, typer.Option("--stale", help="Only loans stale for at least one matching policy.")] = False,
    policy: Annotated[str | None, typer.Option("--policy", help="Only loans this policy matches.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only loans whose last skip reason is this.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=MAX_LIMIT, help="At most N loans.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    tz: TzOption = "UTC",
) -> None:
    """One line per loan: status, data date, hold, last outcome, last skip reason."""
    from monitor.core.readable import dumps
    from monitor.render import print_loans
    from monitor.reports.loan_view import loan_list

    zone = tz_option(tz)
    if reason is not None:
        reason = _skip_reason(reason)
    c = root_options(ctx)
    services = c.context()
    view = loan_list(services, now=services.clock.now(), stale=stale, policy=policy, reason=reason, limit=limit)
    if as_json:
        typer.echo(dumps(view, sort_keys=True))
    else:
        print_loans(view, zone)


def _skip_reason(value: str) -> str:
    """A skip reason as the passes record it; anything else is exit 2 with the nearest one."""
    import difflib

    from monitor.core.states import SkipReason

    known = [r.value for r in SkipReason]
    if value in known:
        return value
    close = difflib.get_close_matches(value.lower(), known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InputError("--reason", "", f"unknown skip reason {value!r}{hint} (reasons: {', '.join(known)})")
