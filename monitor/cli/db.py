"""`monitor db upgrade`: schema migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from monitor.cli.context import (
    root_options,
)

if TYPE_CHECKING:
    pass

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply schema migrations (SQLite upgrades itself; run this for Postgres before the first pass)."""
    from monitor.app import database_source, database_url
    from monitor.store.db import current_revision, make_engine, upgrade

    c = root_options(ctx)
    cfg = c.config(required=False)
    engine = make_engine(database_url(cfg, c.settings, c.database), source=database_source(cfg, c.settings, c.database))
    upgrade(engine)
    typer.echo(f"database at revision {current_revision(engine)}")
