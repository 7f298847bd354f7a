"""`monitor plan`, `monitor run` and `monitor schedule`: one pass, its preview, and the daemon."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.context import (
    MAX_LIMIT,
    policy_warnings,
    refuse_without_audit_key,
    root_options,
)
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.jobs.pass_summary import PassSummary


def summary_out(summary: PassSummary, as_json: bool, extra: dict[str, object] | None = None) -> None:
    from monitor.core.readable import dumps
    from monitor.render.summary import backlog_line, print_summary

    if as_json:
        typer.echo(dumps({**summary.as_dict(), **(extra or {})}, sort_keys=True))
        return
    print_summary(summary)
    for policy, line in summary.backlog.items():
        typer.echo(backlog_line(policy, line))
    for warning in summary.warnings:
        typer.echo(f"warning: {warning}", err=True)


def plan(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Argument(help="Job name from jobs.yaml (default: the first job).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object, with each loan's decision and reason under `loans`.")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=0, max=MAX_LIMIT, help="With --json: list at most N loans (the totals count all)."),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Read nothing from Truv: loans whose order was never read are listed as read_order, not decided.",
        ),
    ] = False,
) -> None:
    """Show what a pass of JOB would do now, loan by loan, and why. Spends nothing; changes nothing but what
    it learns of a new book from Truv's order list (below).

    Loans whose order was never read (a new book's first night) have their orders read first, as the run
    reads them (GETs only, paced; nothing recorded), so the plan says what the run will do; when many lack
    details, the plan first walks Truv's order list as the run would (`loans sync`) and keeps what it
    learned. Without Truv credentials, or with --offline, they are listed as read_order. The totals are
    the pass's: loans past the job's max_refreshes are listed as not_reached.
    """
    from functools import partial

    from monitor.app import connect
    from monitor.jobs.order_reads import read_orders
    from monitor.jobs.order_sync import SyncSummary, sync_if_worth
    from monitor.jobs.plan import OrderReader, Plan
    from monitor.json_listing import SpooledRows

    c = root_options(ctx)
    cfg = c.config()
    context = c.context(cfg)
    the_job = cfg.job(job)
    reader: OrderReader | None = None
    sync: Callable[[], SyncSummary | None] | None = None
    offline_why = None
    if offline:
        offline_why = "--offline"
    elif not (c.settings.client_id and c.settings.secret):
        offline_why = "no TRUV_CLIENT_ID / TRUV_SECRET"
    else:
        services = connect(context, c.settings)
        reader, sync = partial(read_orders, services.client), partial(sync_if_worth, services)
    # The decisions go to a file as they are made (a 5M-loan book lists 5M); the table shows none.
    with SpooledRows() as rows:
        the_plan = Plan(context, the_job, keep=limit if as_json else 0, reader=reader, into=rows.append, sync=sync)
        summary = the_plan.run()
        if offline_why is not None and summary.details_needed:
            summary.warnings.append(
                f"offline ({offline_why}): {summary.details_needed} loans' orders were not read; they are listed "
                "as read_order and the run reads them first"
            )
        summary.warnings += policy_warnings(context, the_job.policies)
        if not as_json:
            summary_out(summary, as_json)
            return
        listing = {"loans_total": the_plan.loans_total, "loans_truncated": rows.count < the_plan.loans_total}
        rows.write_object({**summary.as_dict(), **listing}, "loans", sys.stdout)


def run(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Argument(help="Job name from jobs.yaml (default: the first job).")] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print one JSON object with run_id, job, selected, submitted, skipped, completed, failed."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide everything, send and record nothing (same as `plan`).")
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            help="After submitting, poll this run's refreshes for up to SECONDS for their outcome.",
            metavar="SECONDS",
        ),
    ] = 0.0,
    metrics_file: Annotated[
        Path | None,
        typer.Option(
            "--metrics-file",
            envvar="MONITOR_METRICS_FILE",
            help="Write Prometheus metrics here after the pass (node-exporter textfile collector).",
        ),
    ] = None,
) -> None:
    """Run one refresh pass of JOB: settle earlier refreshes, select stale loans, spend budget, submit.

    Exit 0 when the pass finished (a failed refresh is an outcome, not an error), when another
    pass of the same job holds the lease, or when SIGTERM/SIGINT stopped it cleanly (status
    "stopped": no new loans taken, what was in flight recorded, lease released); 1 when it could
    not finish (Truv refused the credentials, Truv unreachable: status "truv_unreachable", database
    unreachable); 2 for bad config.
    """
    from monitor.app import connect
    from monitor.jobs.plan import Plan
    from monitor.jobs.refresh_pass import JobPass

    c = root_options(ctx)
    cfg = c.config()
    the_job = cfg.job(job)
    context = c.context(cfg)
    if dry_run:
        summary = Plan(context, the_job, stop=stop_on_signals(), keep=0).run()
        summary_out(summary, as_json)
        return
    refuse_without_audit_key(context)
    services = connect(context, c.settings)
    if cfg.notify is not None:
        from monitor.jobs.notify import notify_secret

        notify_secret(services)  # a missing secret is a config error before anything is sent
    stop = stop_on_signals()
    from monitor.progress import for_terminal

    progress = for_terminal(services.clock, f"run {the_job.name}", sys.stderr)
    the_pass = JobPass(services, the_job, wait_seconds=wait, stop=stop, progress=progress)
    try:
        summary = the_pass.run()
    except MonitorError as exc:
        exc.details = the_pass.summary.as_dict()  # `run --json` prints the pass so far with the error
        raise
    finally:
        if metrics_file is not None:
            from monitor.metrics import write_textfile

            write_textfile(services, metrics_file)
            metrics_file.chmod(0o644)
    summary_out(summary, as_json)


def stop_on_signals() -> threading.Event:
    """Set by the first SIGTERM/SIGINT: the pass stops taking loans and records what is in flight."""
    from monitor.listening import install_signal_handlers

    stop = threading.Event()
    install_signal_handlers(stop)
    return stop
