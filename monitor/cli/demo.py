"""`monitor demo`: a whole pass with no credentials."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass


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
