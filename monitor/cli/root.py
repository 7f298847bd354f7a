"""The `monitor` command: its root options, and every command group in its place."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor import __version__
from monitor.cli import audit, changes, config_cmds, demo, loans, passes, purge, reauth, report, schedule, views
from monitor.cli.console import console_app
from monitor.cli.context import RootOptions, one_of, set_actor, warn_if_password
from monitor.cli.db import db_app
from monitor.cli.sandbox import sandbox_app
from monitor.cli.webhooks import webhooks_app
from monitor.config import Settings
from monitor.log import LEVELS

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

app.command("check-config")(config_cmds.check_config)
app.command("init")(config_cmds.init_cmd)
app.add_typer(loans.loans_app, name="loans")
app.command("plan")(passes.plan)
app.command("run")(passes.run)
app.command("schedule")(schedule.schedule)
app.command("status")(views.status_cmd)
app.command("ledger")(views.ledger_cmd)
app.add_typer(changes.changes_app, name="changes")
app.command("report")(report.report_cmd)
app.add_typer(audit.audit_app, name="audit")
app.command("purge")(purge.purge_cmd)
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(reauth.reauth_app, name="reauth")
app.add_typer(db_app, name="db")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(console_app, name="console")
app.command("demo")(demo.demo)


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
        str, typer.Option("--log-level", callback=one_of(*LEVELS), help="debug, info, warning or error.")
    ] = "info",
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            callback=one_of("auto", "json", "console"),
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
        warn_if_password(database)
    set_actor(ctx.invoked_subcommand)
    ctx.obj = RootOptions(
        config_path=config or settings.config_path,
        config_given=config is not None or "MONITOR_CONFIG" in __import__("os").environ,
        database=database,
        settings=settings,
    )
