"""The command line: one module per command group (see root.py for the map), one shared setup
(context.py), and the executable's exit codes (entry.py)."""

from monitor.cli.entry import main
from monitor.cli.root import app

__all__ = ["app", "main"]
