"""`monitor loans`: import the book, look at a loan, hold and release it (one module per subcommand group)."""

from __future__ import annotations

import typer

from monitor.cli.loans_hold import loans_hold, loans_release
from monitor.cli.loans_import import loans_import
from monitor.cli.loans_sync import loans_sync
from monitor.cli.loans_views import loans_list, loans_show

loans_app = typer.Typer(help="Import and inspect the loans monitor keeps fresh.", no_args_is_help=True)
# In this order: `monitor loans --help` lists them as registered.
loans_app.command("import")(loans_import)
loans_app.command("sync")(loans_sync)
loans_app.command("show")(loans_show)
loans_app.command("hold")(loans_hold)
loans_app.command("release")(loans_release)
loans_app.command("list")(loans_list)
