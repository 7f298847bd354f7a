"""The `monitor` executable: exit codes (0 done, 1 could not finish, 2 bad config or input), one line per error."""

from __future__ import annotations

import sys

import typer

from monitor.cli.root import app
from monitor.errors import InputError, MonitorError


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
    except (typer.Abort, typer.TyperException, MonitorError, KeyboardInterrupt) as exc:
        return _answer(exc, as_json)
    except Exception as exc:
        if as_json:  # a bug: the traceback goes to stderr, stdout still carries one object
            _failed(f"internal error: {type(exc).__name__}", 1, as_json)
        raise
    return int(result) if isinstance(result, int) else 0


def _answer(exc: BaseException, as_json: bool) -> int:
    """The exit code of an expected stop, its one line said."""
    if isinstance(exc, typer.TyperException):  # usage errors: unknown command or option, bad value
        return _usage(exc, as_json)
    if isinstance(exc, InputError):
        return _failed(f"error: {exc}", 2, as_json)
    if isinstance(exc, MonitorError):
        return _failed(f"error: {exc}", exc.exit_code, as_json, exc.details)
    return _failed("aborted" if isinstance(exc, typer.Abort) else "interrupted", 130, as_json)


def _usage(exc: typer.TyperException, as_json: bool) -> int:
    code = int(getattr(exc, "exit_code", 2) or 2)
    show = getattr(exc, "show", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and callable(show):  # `monitor` or `monitor loans` alone
        show()  # the help is the answer
        return code
    return _failed(_usage_line(exc), code, as_json)


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


def _failed(line: str, code: int, as_json: bool, details: dict[str, object] | None = None) -> int:
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
