"""Command line. Exit codes: 0 the command did its job, 1 it could not finish, 2 bad config or input."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor import __version__
from monitor.config import JobsFile, Settings, load_config
from monitor.console_cli import console_app
from monitor.errors import InputError, MonitorError
from monitor.log import LEVELS

if TYPE_CHECKING:
    from monitor.services import Context

app = typer.Typer(
    name="monitor",
    help=(
        "Keep Truv income, employment and asset data fresh on active loans, inside Truv's refresh "
        "budgets (3 per access token per 24 h; 5 per GSE loan per 90 days).\n\n"
        "Start with `monitor demo` (no credentials needed). For real use: write jobs.yaml, run "
        "`monitor check-config`, `monitor loans import loans.csv`, `monitor plan`, then `monitor run` "
        "from cron with TRUV_CLIENT_ID and TRUV_SECRET set."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    rich_markup_mode=None,
)
loans_app = typer.Typer(help="Import and inspect the loans monitor keeps fresh.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The built-in Truv simulator used by the demo and the tests.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Receive Truv's webhooks: outcomes as they happen.", no_args_is_help=True)
reauth_app = typer.Typer(
    help="Hand connections that need the borrower back to the lender (Bridge update mode).", no_args_is_help=True
)
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(reauth_app, name="reauth")
app.add_typer(loans_app, name="loans")
app.add_typer(db_app, name="db")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(console_app, name="console")

# The largest --limit: a LIMIT past a 64-bit integer crashes the database driver (issue 25 point 15).
MAX_LIMIT = 1_000_000_000


@dataclass
class Ctx:
    config_path: Path
    config_given: bool
    database: str | None
    settings: Settings

    def config(self, *, required: bool = True) -> JobsFile:
        """jobs.yaml; commands that only need the database accept its absence."""
        if not required and not self.config_given and not self.config_path.exists():
            return JobsFile()
        return load_config(self.config_path)


def _ctx(ctx: typer.Context) -> Ctx:
    obj = ctx.find_root().obj
    assert isinstance(obj, Ctx)
    return obj


def _set_actor(command: str | None) -> None:
    """Who the audit trail names: the daemon and the receiver act for the system, other commands for a person."""
    import getpass
    import os
    import socket

    from monitor.store.audit import ACTOR

    host = socket.gethostname()
    if command in ("schedule", "webhooks"):
        ACTOR.set(f"{command}@{host}:{os.getpid()}")
    elif command == "run" and not os.isatty(0):
        ACTOR.set(f"run@{host}:{os.getpid()}")  # cron, systemd, Kubernetes
    else:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        ACTOR.set(f"operator:{user}@{host}")


def refuse_without_audit_key(context: Context) -> None:
    """For a command that writes audit entries: once the chain is keyed (`audit verify --seal`), no key is
    exit 2 before anything is changed, never a plain entry that breaks the chain for good."""
    from monitor.store.audit import require_key
    from monitor.store.db import read_only, session

    with session(read_only(context.engine)) as s:
        require_key(s)


def _warn_if_password(url: str) -> None:
    """A password in --database is readable by every local user (ps, /proc) and stays in shell history."""
    import structlog

    from monitor.errors import ConfigError
    from monitor.store.db import mask_password, parse_url

    try:
        parse_url(url)
    except ConfigError:
        return  # refused with its own one-line error when the database is opened
    if mask_password(url) != url:
        structlog.get_logger().warning(
            "database_password_on_command_line",
            hint="set MONITOR_DATABASE_URL_FILE (a file holding the URL), MONITOR_DATABASE_URL, or PGPASSFILE instead",
        )


def _one_of(*choices: str) -> Callable[[str], str]:
    """An option callback accepting only `choices` (any case): anything else is a usage error, exit 2."""

    def check(value: str) -> str:
        if value.lower() not in choices:
            raise typer.BadParameter(f"expected {', '.join(choices[:-1])} or {choices[-1]}, got {value!r}")
        return value.lower()

    return check


def _version(value: bool) -> None:
    if value:
        typer.echo(f"monitor {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="jobs.yaml to use [env: MONITOR_CONFIG; default ./jobs.yaml]", show_default=False
        ),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Database URL, e.g. sqlite:///monitor.db or postgresql://host/db [env: MONITOR_DATABASE_URL; default: jobs.yaml's database.url, else sqlite:///monitor.db]",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", callback=_one_of(*LEVELS), help="debug, info, warning or error.")
    ] = "info",
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            callback=_one_of("auto", "json", "console"),
            help="auto (JSON unless stderr is a terminal), json or console.",
        ),
    ] = "auto",
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    from monitor.log import configure

    configure(json_logs=None if log_format == "auto" else log_format == "json", level=log_level)
    settings = Settings.from_env()
    if database:
        _warn_if_password(database)
    _set_actor(ctx.invoked_subcommand)
    ctx.obj = Ctx(
        config_path=config or settings.config_path,
        config_given=config is not None or "MONITOR_CONFIG" in __import__("os").environ,
        database=database,
        settings=settings,
    )


# -- config --------------------------------------------------------------------------------------


@app.command("check-config")
def check_config(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: ok, file, errors (where, message), warnings.")
    ] = False,
) -> None:
    """Validate jobs.yaml: exit 0 when it is good (warnings on stderr), 2 listing every problem found, each with
    the key, line and what was expected."""
    from monitor.errors import ConfigError

    c = _ctx(ctx)
    try:
        cfg = c.config()
    except ConfigError as exc:
        problems = exc.problems or (exc,)
        if as_json:
            errors = [{"source": p.source, "where": p.location, "message": p.message} for p in problems]
            typer.echo(json.dumps({"ok": False, "file": str(c.config_path), "errors": errors, "warnings": []}))
        else:
            for problem in problems:
                typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None
    warnings = _existing_loans_warnings(c, cfg)
    if as_json:
        out = {"ok": True, "file": str(c.config_path), "policies": len(cfg.policies), "jobs": len(cfg.jobs)}
        typer.echo(json.dumps({**out, "errors": [], "warnings": warnings}))
        return
    typer.echo(
        f"{c.config_path}: ok ({len(cfg.policies)} policies, {len(cfg.jobs)} jobs; "
        f"budgets {cfg.budgets.per_token_per_24h}/token/24h, GSE {cfg.budgets.gse_per_90d}/90d {cfg.budgets.gse_overage})"
    )
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)


def _existing_loans_warnings(c: Ctx, cfg: JobsFile) -> list[str]:
    """Policies no imported loan matches, when there is a database to look in (none is created for it)."""
    from monitor.app import build, database_source, database_url
    from monitor.store.db import parse_url

    url = database_url(cfg, c.settings, c.database)
    parsed = parse_url(url, source=database_source(cfg, c.settings, c.database))
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return []
    try:
        context = build(cfg, c.settings, database=c.database, auto_upgrade=False)
        return _policy_warnings(context)
    except MonitorError as exc:
        return [f"loans not checked against the policies: {exc}"]


def _policy_warnings(context: Context, names: Collection[str] | None = None) -> list[str]:
    """A policy (of `names`, else every one) whose `match` no active loan meets: a silent no-op otherwise."""
    from monitor.store.db import read_only, session
    from monitor.store.policy_reach import unmatched_policies

    policies = [(p.name, p.match) for p in context.config.policies if names is None or p.name in names]
    with session(read_only(context.engine)) as s:
        return unmatched_policies(s, policies)


@app.command("init")
def init_cmd(
    ctx: typer.Context,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from", help="A loans file (CSV or JSONL): its columns beyond the known ones are declared as attributes."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write it [default: --config, else ./jobs.yaml].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starting jobs.yaml (a policy, a job, the database and truv sections).

    An existing file is left alone (exit 2) unless --force. The file written passes check-config.
    """
    from monitor.errors import ConfigError
    from monitor.starter import extra_columns, render

    target = out or _ctx(ctx).config_path
    attributes = extra_columns(from_file) if from_file is not None else []
    text = render(attributes, origin=from_file)
    try:
        with target.open("w" if force else "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise ConfigError(
            str(target), "", "already exists; nothing was written (pass --force to overwrite it)"
        ) from None
    except OSError as exc:
        raise ConfigError(str(target), "", f"cannot be written: {exc.strerror}") from None
    declared = f"; attributes declared from {from_file}: {', '.join(attributes)}" if attributes else ""
    typer.echo(f"wrote {target}{declared}. Edit it, then run `monitor --config {target} check-config`")


def _declared(c: Ctx, config: JobsFile, file: Path) -> Any:
    """What `loans import` accepts beyond the known columns: jobs.yaml's `loans.attributes`."""
    from monitor.loans_file import Declared

    hint = (
        "" if c.config_path.exists() else f" ({c.config_path} does not exist: `monitor init --from {file}` writes one)"
    )
    return Declared(frozenset(config.loans.attributes), str(c.config_path), hint)


# -- loans ---------------------------------------------------------------------------------------


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
            callback=lambda value: None if value is None else _one_of("first", "last")(value),
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
    from monitor.app import build
    from monitor.loans_file import read_rows
    from monitor.progress import counted, for_terminal
    from monitor.store.db import session
    from monitor.store.loan_repeats import Repeats, find_repeats
    from monitor.store.loans import FUTURE_ALLOWANCE, RepeatedLoanId, import_loans

    c = _ctx(ctx)
    services = build(c.config(required=False), c.settings, database=c.database)
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
            from monitor.store.ledger import add_event

            add_event(
                s,
                at=now,
                kind="loans_imported",
                file=str(file),
                rows=result.rows,
                inserted=result.inserted,
                updated=result.updated,
                closed=result.closed,
                full_snapshot=full_snapshot,
                forced=force and full_snapshot,
                dedupe=dedupe,
                dropped=repeats.rows,
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
        "closed": result.closed,
        **({"dropped": repeats.rows, "dedupe": dedupe} if dedupe else {}),
    }
    if as_json:
        typer.echo(json.dumps(out))
    else:
        typer.echo(
            f"{file}: {result.rows} loans ({result.inserted} new, {result.updated} updated"
            + (f", {result.closed} closed as absent" if full_snapshot else "")
            + ")"
            + (f"; {repeats.rows} repeated rows dropped, the {dedupe} of each kept" if dedupe else "")
        )


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
    from monitor.app import build
    from monitor.core.readable import dumps
    from monitor.render import print_loan
    from monitor.reports.loan_view import loan_show

    zone = _zone(tz)
    c = _ctx(ctx)
    services = build(c.config(required=False), c.settings, database=c.database)
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
    from monitor.app import build
    from monitor.store import loan_refresh
    from monitor.store.db import session

    why = reason.strip()
    if not why or not why.isprintable():
        raise InputError("--reason", "", "expected a short printable text saying why")
    c = _ctx(ctx)
    context = build(c.config(required=False), c.settings, database=c.database)
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
    from monitor.app import build
    from monitor.core.readable import dumps
    from monitor.render import print_loans
    from monitor.reports.loan_view import loan_list

    zone = _zone(tz)
    if reason is not None:
        reason = _skip_reason(reason)
    c = _ctx(ctx)
    services = build(c.config(required=False), c.settings, database=c.database)
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


# -- plan / run ----------------------------------------------------------------------------------


def _summary_out(summary: Any, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    from monitor.core.readable import dumps
    from monitor.render import backlog_line, print_summary

    if as_json:
        typer.echo(dumps({**summary.as_dict(), **(extra or {})}, sort_keys=True))
        return
    print_summary(summary)
    for policy, line in summary.backlog.items():
        typer.echo(backlog_line(policy, line))
    for warning in summary.warnings:
        typer.echo(f"warning: {warning}", err=True)


@app.command("plan")
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
    """Show what a pass of JOB would do now, loan by loan, and why. Spends nothing and changes nothing.

    Loans whose order was never read (a new book's first night) have their orders read first, as the run
    reads them (GETs only, paced; nothing recorded), so the plan says what the run will do; without Truv
    credentials, or with --offline, they are listed as read_order. The totals are the pass's: loans past
    the job's max_refreshes are listed as not_reached.
    """
    from functools import partial

    from monitor.app import build, connect
    from monitor.jobs.order_reads import read_orders
    from monitor.jobs.plan import OrderReader, Plan

    c = _ctx(ctx)
    cfg = c.config()
    context = build(cfg, c.settings, database=c.database)
    the_job = cfg.job(job)
    reader: OrderReader | None = None
    offline_why = None
    if offline:
        offline_why = "--offline"
    elif not (c.settings.client_id and c.settings.secret):
        offline_why = "no TRUV_CLIENT_ID / TRUV_SECRET"
    else:
        reader = partial(read_orders, connect(context, c.settings).client)
    the_plan = Plan(context, the_job, keep=limit, reader=reader)
    summary = the_plan.run()
    if offline_why is not None and summary.details_needed:
        summary.warnings.append(
            f"offline ({offline_why}): {summary.details_needed} loans' orders were not read; they are listed "
            "as read_order and the run reads them first"
        )
    summary.warnings += _policy_warnings(context, the_job.policies)
    shown = the_plan.loans
    listing = {
        "loans": shown,
        "loans_total": the_plan.loans_total,
        "loans_truncated": len(shown) < the_plan.loans_total,
    }
    _summary_out(summary, as_json, listing)


@app.command("run")
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
    from monitor.app import build, connect
    from monitor.jobs.plan import Plan
    from monitor.jobs.refresh_pass import JobPass

    c = _ctx(ctx)
    cfg = c.config()
    the_job = cfg.job(job)
    context = build(cfg, c.settings, database=c.database)
    if dry_run:
        summary = Plan(context, the_job, stop=_stop_on_signals()).run()
        _summary_out(summary, as_json)
        return
    refuse_without_audit_key(context)
    services = connect(context, c.settings)
    if cfg.notify is not None:
        from monitor.jobs.notify import notify_secret

        notify_secret(services)  # a missing secret is a config error before anything is sent
    stop = _stop_on_signals()
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
    _summary_out(summary, as_json)


def _stop_on_signals() -> threading.Event:
    """Set by the first SIGTERM/SIGINT: the pass stops taking loans and records what is in flight."""
    from monitor.scheduler import install_signal_handlers

    stop = threading.Event()
    install_signal_handlers(stop)
    return stop


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface for /healthz, /metrics (and webhooks).")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port for /healthz and /metrics; 0 serves nothing.")
    ] = 8080,
    webhooks: Annotated[
        bool, typer.Option("--webhooks", help="Also receive Truv webhooks at /webhooks/truv (needs TRUV_SECRET).")
    ] = False,
    console: Annotated[
        bool, typer.Option("--console", help="Also serve the operator console (see `monitor console --help`).")
    ] = False,
    console_host: Annotated[str, typer.Option("--console-host", help="Interface for the console.")] = "127.0.0.1",
    console_port: Annotated[int, typer.Option("--console-port", min=0, max=65535, help="Port for the console.")] = 8081,
) -> None:
    """Run the jobs of jobs.yaml on their cron and timezone until stopped (SIGTERM/SIGINT).

    One pass per job at a time, missed fire times coalesced, a 6 h misfire grace, and on start a
    catch-up: a job whose last finished pass is older than its previous fire time runs once.
    """
    import uvicorn

    from monitor.app import build, connect
    from monitor.errors import ConfigError
    from monitor.scheduler import Daemon, bind_port, install_signal_handlers, listening_line
    from monitor.webhooks.receiver import create_app

    c = _ctx(ctx)
    cfg = c.config()
    if not cfg.jobs:
        raise ConfigError(str(c.config_path), "jobs", "no job to schedule")
    if webhooks and not c.settings.secret:
        raise ConfigError("environment", "TRUV_SECRET", "not set; webhooks are verified with the access secret")
    # A port that cannot be bound is an error now (exit 1), not a daemon without /healthz and /metrics.
    sock = bind_port(host, port) if port else None
    console_sock = bind_port(console_host, console_port) if console else None
    context = build(cfg, c.settings, database=c.database)
    refuse_without_audit_key(context)
    services = connect(context, c.settings)
    stop = threading.Event()
    install_signal_handlers(stop)
    server = None
    daemon = Daemon(services, stop=stop)
    if sock is not None:
        app_ = create_app(
            services,
            secret=c.settings.secret if webhooks else None,
            health=daemon.health,
            metrics_token=c.settings.metrics_token,
        )
        from monitor.webhooks.receiver import uvicorn_options

        # The daemon's port may face Truv too (--webhooks): the same connection limits as `webhooks serve`.
        server = uvicorn.Server(uvicorn.Config(app_, host=host, port=port, **uvicorn_options()))
        # uvicorn listens for signals only from the main thread, so ours (SIGTERM/SIGINT) stay in charge.
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="http", daemon=True).start()
        typer.echo(listening_line(sock), err=True)
    if console_sock is not None:
        from monitor.console.app import create_app as console_app_for
        from monitor.console_cli import access_from, server_options

        # Its own port, on 127.0.0.1 by default: the daemon's port may face Truv, the console must not.
        access = access_from(None, None, None, host=console_host)
        console_server = uvicorn.Server(
            uvicorn.Config(
                console_app_for(services, services=services, access=access), proxy_headers=False, **server_options()
            )
        )
        threading.Thread(
            target=console_server.run, kwargs={"sockets": [console_sock]}, name="console", daemon=True
        ).start()
        typer.echo(f"console {listening_line(console_sock)}", err=True)
    caught_up = daemon.start()
    typer.echo(
        f"scheduling {', '.join(j.name for j in cfg.jobs)}"
        + (f"; catching up {', '.join(caught_up)}" if caught_up else ""),
        err=True,
    )
    daemon.wait()
    if server is not None:
        server.should_exit = True


def _zone(name: str) -> Any:
    """`--tz`: the one zone a command's tables show times in (JSON stays ISO 8601 with its offset)."""
    from monitor.core.readable import zone

    try:
        return zone(name)
    except ValueError as exc:
        raise InputError("--tz", "", str(exc)) from None


TzOption = Annotated[
    str, typer.Option("--tz", help="Time zone of the tables' times (IANA name, e.g. America/New_York).")
]


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    tz: TzOption = "UTC",
) -> None:
    """Each job's last passes, the lease holder, next fire times, re-auth backlog and budget headroom."""
    from monitor.app import build
    from monitor.core.readable import dumps
    from monitor.render import print_status
    from monitor.reports.status import status

    zone = _zone(tz)
    c = _ctx(ctx)
    services = build(c.config(), c.settings, database=c.database)
    data = status(services, now=services.clock.now())
    if as_json:
        typer.echo(dumps(data, sort_keys=True))
    else:
        print_status(data, zone)


# -- ledger --------------------------------------------------------------------------------------


@app.command("ledger")
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
    from monitor.app import build
    from monitor.core.readable import dumps
    from monitor.core.staleness import start_of_day_utc
    from monitor.render import print_ledger, print_ledger_totals
    from monitor.reports.ledger_view import ledger_view

    zone = _zone(tz)
    c = _ctx(ctx)
    since_at = start_of_day_utc(_date(since, "--since")) if since else None
    services = build(c.config(required=False), c.settings, database=c.database)
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
app.add_typer(changes_app, name="changes")


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
    from monitor.app import build
    from monitor.jobs.disposition import checked_note, dispose_finding

    checked_note(note)  # a bad note is exit 2 before the database is opened
    c = _ctx(ctx)
    context = build(c.config(required=False), c.settings, database=c.database)
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
    pay change, missed pay, unverified refreshes (income monitoring; see README, Monitoring), each with
    its id and disposition. `monitor changes ack|resolve ID --note TEXT` records an operator's word."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import UTC, datetime

    from monitor.app import build
    from monitor.core.changes import severities_from
    from monitor.core.readable import dumps
    from monitor.errors import InputError
    from monitor.render import print_changes
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
        d = _date(since, "--since")
        start = datetime(d.year, d.month, d.day, tzinfo=UTC)
    c = _ctx(ctx)
    services = build(c.config(required=False), c.settings, database=c.database)
    with session(read_only(services.engine)) as s:
        rows = findings(s, since=start, loan_id=loan, severities=wanted)
    if as_json:
        typer.echo(dumps(rows, sort_keys=True))
    else:
        print_changes(rows)


# -- compliance ----------------------------------------------------------------------------------

audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


# Dates an option accepts: wide enough for any report, far from the calendar edges.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def _output(path: Path, option: str) -> Path:
    """A file to write: its folder is created if missing (0700 under the umask), but a folder or a
    path through a file is refused before any work is done."""
    from monitor.errors import InputError

    if path.is_dir():
        raise InputError(option, "", f"{path} is a folder; give a file name")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise InputError(option, "", f"{parent} is a file, not a folder")
    return path


def _date(value: str, option: str) -> date:
    from monitor.errors import InputError

    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InputError(option, "", f"expected a date as YYYY-MM-DD, got {value!r}") from None
    # Reports and retention add and subtract days and months: near year 1 or 9999 that overflows.
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InputError(option, "", f"expected a date between {FIRST_DAY} and {LAST_DAY}, got {value!r}")
    return day


# `report --out`'s extension picks the format when --format is not given.
_REPORT_FORMATS = {".csv": "csv", ".json": "json", ".html": "html", ".htm": "html"}


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")],
    date_to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (UTC), included.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, json or html (default: from --out's extension, else html)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where to write it (CSV also writes STEM-exceptions.csv); default monitor-report.FORMAT.",
        ),
    ] = None,
    pre_closing_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=60,
            help="Business days of the pre-closing window for every loan, overriding each policy's "
            "pre_closing_business_days; every loan closing in the period is then judged (default: only "
            "loans a policy with a window matches).",
        ),
    ] = None,
) -> None:
    """Per-loan pulls, budgets and outcomes for a period, the exceptions, and totals with charts (HTML)."""
    from monitor.app import build
    from monitor.errors import InputError
    from monitor.reports.compliance import build as build_report
    from monitor.reports.compliance import write

    if fmt is not None and fmt not in ("csv", "json", "html"):
        raise InputError("--format", "", f"expected csv, json or html, got {fmt!r}")
    by_ext = _REPORT_FORMATS.get(out.suffix.lower()) if out is not None else None
    if fmt is not None and by_ext is not None and fmt != by_ext:
        raise InputError("--format", "", f"{fmt} conflicts with --out {out} (a .{by_ext} file); drop one")
    fmt = fmt or by_ext or "html"
    out = _output(out if out is not None else Path(f"monitor-report.{fmt}"), "--out")
    start, end = _date(date_from, "--from"), _date(date_to, "--to")
    if end < start:
        raise InputError("--to", "", f"{end} is before --from {start}")
    c = _ctx(ctx)
    services = build(c.config(required=False), c.settings, database=c.database)
    data = build_report(services, start=start, end=end, now=services.clock.now(), pre_closing_days=pre_closing_days)
    files = write(data, fmt, out)
    typer.echo(
        f"wrote {', '.join(map(str, files))}: {data['totals']['loans']} loans, {data['totals']['refreshes']} refreshes"
    )


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    seal: Annotated[
        bool,
        typer.Option(
            "--seal",
            help="Adopt MONITOR_AUDIT_KEY for a chain written without it: verify it, then key every later entry.",
        ),
    ] = False,
    adopt_key: Annotated[
        bool,
        typer.Option(
            "--adopt-key",
            help="With --seal and --force: adopt the key even though the trail shows it was keyed before.",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="With --seal --adopt-key.")] = False,
) -> None:
    """Walk the hash chain; exit 1 naming the first problem (an entry edited or deleted, the newest entries
    removed, a wrong key, a keying gone that the seal file remembers). With MONITOR_AUDIT_KEY the keyed chain,
    its seal and the seal file are checked; without it, a chain that was never keyed is checked and reported
    as unkeyed, and a keyed one needs the key (exit 2)."""
    from monitor.app import build
    from monitor.core.readable import dumps
    from monitor.errors import ConfigError, InputError, MonitorError
    from monitor.store.audit import KEY_ENV, audit_key, verify
    from monitor.store.audit_seal import (
        earlier_keying,
        read_seal_file,
        seal_file_path,
        seal_file_problem,
        write_seal_file,
    )
    from monitor.store.db import read_only, session

    if (adopt_key or force) and not (seal and adopt_key and force):
        raise InputError("--adopt-key", "", "--adopt-key and --force go together, and only with --seal")
    key = audit_key()
    if seal and key is None:
        raise ConfigError("environment", KEY_ENV, "not set; --seal keys the chain with it")
    c = _ctx(ctx)
    services = build(c.config(required=False), c.settings, database=c.database)
    seal_path = seal_file_path(c.config_path)
    record = read_seal_file(seal_path)
    with session(read_only(services.engine)) as s:
        result = verify(s, key=key)
        traces = earlier_keying(s, record=record, path=seal_path) if seal else []
    if seal and result["reason"] == "unsealed":
        if traces and not adopt_key:
            raise InputError(
                "--seal",
                "",
                f"not sealed: the trail was keyed before ({'; '.join(traces)}), so this chain without keying may be "
                "a forgery; adopt the key anyway only if you know why, with --seal --adopt-key --force",
            )
        _seal_chain(services, key or "", result, seal_path)
        return
    problem = seal_file_problem(record, result, key=key, path=seal_path)
    if problem is not None:
        result = {**result, "ok": False, "reason": "seal_file", "message": problem}
    elif result["ok"] and result["keyed"] and key is not None:
        write_seal_file(
            seal_path,
            key=key,
            keyed_from=result["keyed_from"],
            head_seq=result["head_seq"],
            head_hash=result["head_hash"],
        )
    if as_json:
        typer.echo(dumps(result, sort_keys=True))
    elif result["ok"]:
        typer.echo(_verified_line(result))
    if result["reason"] == "key_required":
        raise ConfigError("environment", KEY_ENV, f"not set; {result['message']}")
    if not result["ok"]:
        label = "not verified" if result["reason"] in ("wrong_key", "unsealed") else "broken"
        raise MonitorError(f"audit chain {label}: {result['message']}")


def _verified_line(result: dict[str, Any]) -> str:
    checkpoint = result["checkpoint"]
    where = f"checkpoint {checkpoint['through_seq']}" if checkpoint else "the start"
    if result["keyed"]:
        return (
            f"audit chain intact: {result['entries_checked']} entries after {where}, keyed from entry "
            f"{result['keyed_from']} and sealed at entry {result['head_seq']} (checked with MONITOR_AUDIT_KEY)"
        )
    return (
        f"audit chain unkeyed: {result['entries_checked']} entries after {where} match their SHA-256 hashes, "
        "which anyone able to write to the database could recompute; set MONITOR_AUDIT_KEY and run "
        "`monitor audit verify --seal` to key it"
    )


def _seal_chain(services: Context, key: str, result: dict[str, Any], seal_path: Path) -> None:
    from monitor.store.audit import seal
    from monitor.store.audit_seal import write_seal_file
    from monitor.store.db import session

    with session(services.engine) as s:
        sealed = seal(
            s, key=key, now=services.clock.now(), verified_seq=result["head_seq"], verified_hash=result["head_hash"]
        )
    write_seal_file(
        seal_path, key=key, keyed_from=sealed["keyed_from"], head_seq=sealed["head_seq"], head_hash=sealed["head_hash"]
    )
    typer.echo(
        f"audit chain sealed: {sealed['unkeyed_entries']} unkeyed entries verified and covered; every entry "
        f"from {sealed['keyed_from']} on is keyed with MONITOR_AUDIT_KEY (seal file {seal_path})"
    )


RETENTION_MONTHS = 25


def _months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the last day of a shorter month)."""
    import calendar

    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return day.replace(year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1]))


@app.command("purge")
def purge_cmd(
    ctx: typer.Context,
    before: Annotated[
        str | None,
        typer.Option("--before", help="Remove audit detail before this day (default and latest: 25 months ago)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Allow a --before later than the 25-month retention boundary.")
    ] = False,
) -> None:
    """Remove audit entries and raw webhook bodies past retention, keeping the chain verifiable from a
    checkpoint signed with MONITOR_AUDIT_KEY. A broken chain is not purged (that would remove the evidence)."""
    from monitor.app import build
    from monitor.core.staleness import start_of_day_utc
    from monitor.errors import ConfigError, InputError, MonitorError
    from monitor.store.audit import KEY_ENV, audit_key, purge, verify
    from monitor.store.db import read_only, session

    key = audit_key()
    if not key:
        raise ConfigError("environment", KEY_ENV, "not set; it signs the checkpoint that keeps the chain verifiable")
    c = _ctx(ctx)
    services = build(c.config(required=False), c.settings, database=c.database)
    now = services.clock.now()
    boundary = _months_before(now.date(), RETENTION_MONTHS)
    day = _date(before, "--before") if before else boundary
    if day > now.date():  # --force or not: today's entries, and anything later, are never purged
        raise InputError("--before", "", f"{day} is after today ({now.date()}): audit detail is never purged past now")
    if day > boundary and not force:
        raise InputError(
            "--before",
            "",
            f"{day} is later than the retention boundary {boundary} ({RETENTION_MONTHS} months ago): that would "
            "remove audit detail still inside retention; add --force to do it anyway",
        )
    with session(read_only(services.engine)) as s:
        checked = verify(s, key=key)
    if not checked["ok"] and checked["reason"] != "unsealed":
        raise MonitorError(f"audit chain does not verify, not purged: {checked['message']}")
    with session(services.engine) as s:
        result = purge(s, before=start_of_day_utc(day), key=key, now=now, forced=force)
    typer.echo(
        f"removed {result['removed']} audit entries and {result['webhook_events_removed']} webhook events "
        f"(raw bodies) from before {day}"
        + (
            f"; kept {result['webhook_events_kept_unapplied']} webhook events not applied yet"
            if result["webhook_events_kept_unapplied"]
            else ""
        )
        + ("; the chain verifies from a signed checkpoint" if result["removed"] else "")
    )


# -- db ------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply schema migrations (SQLite upgrades itself; run this for Postgres before the first pass)."""
    from monitor.app import database_source, database_url
    from monitor.store.db import current_revision, make_engine, upgrade

    c = _ctx(ctx)
    cfg = c.config(required=False)
    engine = make_engine(database_url(cfg, c.settings, c.database), source=database_source(cfg, c.settings, c.database))
    upgrade(engine)
    typer.echo(f"database at revision {current_revision(engine)}")


# -- webhooks and re-auth -----------------------------------------------------------------------


@webhooks_app.command("serve")
def webhooks_serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0 in a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port.")] = 8080,
    path: Annotated[str, typer.Option(help="Path Truv posts to.")] = "/webhooks/truv",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (2 on a 2-core machine doubles the rate).")] = 1,
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections",
            min=1,
            help="Connections at once, per worker; past it, probes only (64 per client address).",
        ),
    ] = 512,
    body_timeout: Annotated[
        float, typer.Option("--body-timeout", min=0.1, help="Seconds a client has to send a request body; then 408.")
    ] = 10.0,
    keep_alive_timeout: Annotated[
        int,
        typer.Option(
            "--keep-alive-timeout", min=1, help="Seconds an idle connection, or one still sending its headers, is kept."
        ),
    ] = 5,
) -> None:
    """Receive Truv webhooks: verify X-WEBHOOK-SIGN with TRUV_SECRET, store, acknowledge, apply. /healthz for probes.

    Bodies are cut at 256 KiB (413); an event that is signed but cannot be applied is kept as `invalid`.
    """
    import logging
    import os

    import uvicorn

    from monitor.app import build, database_url
    from monitor.errors import ConfigError
    from monitor.scheduler import bind_port, listening_line
    from monitor.webhooks.receiver import create_app, uvicorn_options

    c = _ctx(ctx)
    if not c.settings.secret:
        raise ConfigError("environment", "TRUV_SECRET", "not set; webhooks are verified with the access secret")
    cfg = c.config(required=False)
    services = build(cfg, c.settings, database=c.database)  # upgrades SQLite, checks Postgres, before serving
    refuse_without_audit_key(services)  # applying a webhook writes audit entries
    limits = uvicorn_options(max_connections=max_connections, keep_alive=keep_alive_timeout)
    # A port that cannot be bound is exit 1 with one line, before anything is served.
    sock = bind_port(host, port)
    typer.echo(listening_line(sock), err=True)
    if workers > 1:
        sock.close()  # the workers bind it themselves (SO_REUSEADDR, as uvicorn does)
        os.environ["MONITOR_DATABASE_URL"] = database_url(cfg, c.settings, c.database)
        os.environ["MONITOR_WEBHOOK_PATH"] = path
        os.environ["MONITOR_WEBHOOK_BODY_TIMEOUT"] = str(body_timeout)
        os.environ["MONITOR_LOG_LEVEL"] = logging.getLevelName(logging.getLogger().level).lower()
        if c.config_path.exists():  # budgets.clock_skew_margin
            os.environ["MONITOR_CONFIG"] = str(c.config_path.resolve())
        uvicorn.run(
            "monitor.webhooks.receiver:from_environment", factory=True, host=host, port=port, workers=workers, **limits
        )
        return
    config = uvicorn.Config(
        create_app(
            services,
            secret=c.settings.secret,
            path=path,
            body_timeout=body_timeout,
            metrics_token=c.settings.metrics_token,
        ),
        host=host,
        port=port,
        **limits,
    )
    uvicorn.Server(config).run(sockets=[sock])


@webhooks_app.command("status")
def webhooks_status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Webhooks received, by state (applied, stale, unmatched, ignored, recorded, invalid) and by type, and why
    events are invalid. Webhooks refused before storing (bad signature, too large) are counted by the receiver's
    /metrics (monitor_webhooks_rejected_total)."""
    from monitor.app import build
    from monitor.render import print_webhooks
    from monitor.store.webhook_events import counts

    c = _ctx(ctx)
    services = build(c.config(required=False), c.settings, database=c.database)
    if as_json:
        typer.echo(json.dumps(counts(services), sort_keys=True))
    else:
        print_webhooks(counts(services))


@reauth_app.command("list")
def reauth_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Loans whose connection needs the borrower to reconnect, and loans that need a new order
    (finalized or expired order, deleted connection) or a person (403 `forbidden`): why, since when."""
    from monitor.app import build
    from monitor.core.readable import dumps
    from monitor.render import print_reauth, print_set_aside
    from monitor.reports.reauth import needing_reauth, set_aside

    c = _ctx(ctx)
    services = build(c.config(required=False), c.settings, database=c.database)
    now = services.clock.now()
    rows = needing_reauth(services, now=now)
    aside = set_aside(services, now=now)
    if as_json:
        # Each row says what it needs: "reauth" (the borrower reconnects) or what set the loan aside.
        out = [{"needs": "reauth", **{k: v for k, v in r.items() if k != "token_hash"}} for r in rows]
        typer.echo(dumps(out + aside))
    else:
        print_reauth(rows)
        print_set_aside(aside)


@reauth_app.command("token")
def reauth_token(
    ctx: typer.Context,
    loan_id: Annotated[str, typer.Argument(help="The loan whose borrower must reconnect.")],
    product: Annotated[
        str | None,
        typer.Option(
            help="Bridge product_type (income, employment, assets, transactions, insurance); default: each "
            "connection's own (income or employment for an employer, assets for a financial account).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a Bridge update-mode token (valid 6 h) for each of the loan's connections needing re-auth.

    The token is printed for the lender's borrower-facing system and never stored.
    """
    from monitor.app import build, connect
    from monitor.core.products import BRIDGE_PRODUCTS
    from monitor.core.readable import dumps
    from monitor.jobs.reauth import create_tokens

    if product is not None and product not in BRIDGE_PRODUCTS:
        raise InputError("--product", "", f"expected one of {', '.join(BRIDGE_PRODUCTS)}, got {product!r}")
    c = _ctx(ctx)
    cfg = c.config(required=False)
    context = build(cfg, c.settings, database=c.database)
    refuse_without_audit_key(context)
    services = connect(context, c.settings)
    tokens = create_tokens(services, loan_id=loan_id, product=product)
    if as_json:
        typer.echo(dumps(tokens))
    else:
        for t in tokens:
            typer.echo(
                f"{t['loan_id']} connection {t['token']} ({t['reason']}, {t['product']}): "
                f"bridge_token {t['bridge_token']} "
                f"valid until {t['expires_at']:%Y-%m-%d %H:%M} UTC"
            )


# -- sandbox and demo ----------------------------------------------------------------------------


@sandbox_app.command("serve")
def sandbox_serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 picks a free one and prints it).")] = 8765,
    seed: Annotated[int, typer.Option(help="Seed for ids and generated data.")] = 0,
    scenario: Annotated[Path | None, typer.Option(help="YAML/JSON scenario file: settings and orders.")] = None,
    generate: Annotated[int, typer.Option(min=0, help="Generate N orders and write a matching loans CSV.")] = 0,
    loans_out: Annotated[
        Path | None, typer.Option("--loans-out", help="Where --generate writes the loans CSV.")
    ] = None,
    latency: Annotated[float, typer.Option(min=0, help="Seconds of latency added to every request.")] = 0.0,
    rpm: Annotated[int, typer.Option("--rpm", min=1, help="Requests per minute before 429.")] = 300,
    completion_delay: Annotated[float, typer.Option(min=0, help="Seconds before a refresh order completes.")] = 5.0,
    faults: Annotated[
        str | None,
        typer.Option(
            help='Faults, e.g. "5xx=0.1,429=0.05,retry_after=2,slow=0.02:40,drop=0.05,malformed=0.02,404=0.01".'
        ),
    ] = None,
    journal: Annotated[
        Path | None, typer.Option(help="Append every request the sandbox handled to this JSONL file.")
    ] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option("--webhook-url", help="Send signed Truv webhooks here, e.g. http://127.0.0.1:8080/webhooks/truv."),
    ] = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            "--webhook-secret", help="Secret that signs the webhooks [default: env TRUV_SECRET or TRUV_SECRET_FILE]."
        ),
    ] = None,
    refresh_limit_status: Annotated[
        int | None,
        typer.Option(
            "--refresh-limit-status",
            help='HTTP status of Truv\'s per-token refusal ("Refresh limit for the access_token exceeded"): 400, 403 or 429.',
        ),
    ] = None,
) -> None:
    """Serve the Truv simulator over HTTP. Point monitor at it with TRUV_BASE_URL=http://HOST:PORT/v1/ and TRUV_SECRET=sandbox-anything."""
    from monitor.config import secret_from_env
    from monitor.sandbox_cli import serve_sandbox

    serve_sandbox(
        host=host,
        port=port,
        seed=seed,
        scenario=scenario,
        generate=generate,
        loans_out=loans_out,
        latency=latency,
        rpm=rpm,
        completion_delay=completion_delay,
        faults=faults,
        journal=journal,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret or secret_from_env("TRUV_SECRET"),
        refresh_limit_status=refresh_limit_status,
    )


@app.command("demo")
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo's own database and files go (recreated each time).")
    ] = Path("monitor-demo"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the demo's results as JSON.")] = False,
) -> None:
    """Show a whole refresh pass with no credentials: SQLite and the built-in sandbox, simulated time."""
    import logging

    from monitor.demo import run_demo
    from monitor.log import configure

    if logging.getLogger().level == logging.INFO:  # the default: the demo's own summary says it better
        configure(level="warning")
    run_demo(directory, as_json=as_json)


def main(argv: list[str] | None = None) -> int:
    import os

    # The database, its -wal/-shm, reports and exports hold borrowers' data: owner-only by default.
    os.umask(0o077)
    command = typer.main.get_command(app)
    as_json = _json_errors(sys.argv[1:] if argv is None else argv)
    try:
        result = command.main(args=argv, prog_name="monitor", standalone_mode=False)
    # typer carries its own copy of click: its exceptions, not the click package's, are raised here.
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        return _failed("aborted", 130, as_json)
    except typer.TyperException as exc:  # usage errors: unknown command or option, bad value
        show = getattr(exc, "show", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and callable(show):  # `monitor` or `monitor loans` alone
            show()  # the help is the answer
            return int(getattr(exc, "exit_code", 2) or 2)
        return _failed(_usage_line(exc), int(getattr(exc, "exit_code", 2) or 2), as_json)
    except InputError as exc:
        return _failed(f"error: {exc}", 2, as_json)
    except MonitorError as exc:
        return _failed(f"error: {exc}", exc.exit_code, as_json, exc.details)
    except KeyboardInterrupt:
        return _failed("interrupted", 130, as_json)
    except Exception as exc:
        if as_json:  # a bug: the traceback goes to stderr, stdout still carries one object
            _failed(f"internal error: {type(exc).__name__}", 1, as_json)
        raise
    return int(result) if isinstance(result, int) else 0


# Root options that take a value: the word after them is not the command.
_ROOT_VALUES = ("--config", "-c", "--database", "--log-level", "--log-format")


def _json_errors(args: list[str]) -> bool:
    """`monitor [root options] run ... --json`: every exit prints one JSON object on stdout."""
    words = iter(args)
    for word in words:
        if word == "--":
            return False
        if word in _ROOT_VALUES:
            next(words, None)
        elif not word.startswith("-"):
            rest = list(words)
            options = rest[: rest.index("--")] if "--" in rest else rest
            return word == "run" and "--json" in options
    return False


def _failed(line: str, code: int, as_json: bool, details: dict[str, Any] | None = None) -> int:
    """One line on stderr; with `run --json` also one object on stdout: the pass so far, `error`, `exit`."""
    typer.echo(line, err=True)
    if as_json:
        from monitor.core.readable import dumps

        message = line.removeprefix("error: ")
        typer.echo(dumps({**(details or {}), "error": message, "exit": code}, sort_keys=True))
    return code


def _usage_line(exc: Exception) -> str:
    """One line, as every other error: click's message and where the help is (its usual four-line block
    would be read by log collectors as four events)."""
    message = " ".join((getattr(exc, "format_message", None) or exc.__str__)().split())
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"Error: {message}{hint}"


if __name__ == "__main__":
    sys.exit(main())
