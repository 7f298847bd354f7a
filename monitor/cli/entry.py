"""The `monitor` executable: exit codes (0 done, 1 could not finish, 2 bad config or input), one line per error."""

from __future__ import annotations

import sys

import typer

from monitor.cli.error_lines import failed, json_errors, usage_line
from monitor.cli.root import app
from monitor.errors import InputError, MonitorError


def main(argv: list[str] | None = None) -> int:
    import os

    # The database, its -wal/-shm, reports and exports hold borrowers' data: owner-only by default.
    os.umask(0o077)
    command = typer.main.get_command(app)
    as_json = json_errors(sys.argv[1:] if argv is None else argv)
    try:
        result = command.main(args=argv, prog_name="monitor", standalone_mode=False)
    # typer carries its own copy of click: its exceptions, not the click package's, are raised here.
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, typer.TyperException, MonitorError, KeyboardInterrupt) as exc:
        return _answer(exc, as_json)
    except Exception as exc:
        if as_json:  # a bug: the traceback goes to stderr, stdout still carries one object
            failed(f"internal error: {type(exc).__name__}", 1, as_json)
        raise
    return int(result) if isinstance(result, int) else 0


def _answer(exc: BaseException, as_json: bool) -> int:
    """The exit code of an expected stop, its one line said."""
    if isinstance(exc, typer.TyperException):  # usage errors: unknown command or option, bad value
        return _usage(exc, as_json)
    if isinstance(exc, InputError):
        return failed(f"error: {exc}", 2, as_json)
    if isinstance(exc, MonitorError):
        return failed(f"error: {exc}", exc.exit_code, as_json, exc.details)
    return failed("aborted" if isinstance(exc, typer.Abort) else "interrupted", 130, as_json)


def _usage(exc: typer.TyperException, as_json: bool) -> int:
    code = int(getattr(exc, "exit_code", 2) or 2)
    show = getattr(exc, "show", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and callable(show):  # `monitor` or `monitor loans` alone
        show()  # the help is the answer
        return code
    return failed(usage_line(exc), code, as_json)
