"""How a command that stops says so: one line on stderr (log collectors read one event per line), and
with `run --json` one JSON object on stdout as well."""

from __future__ import annotations

import typer

# Root options that take a value: the word after them is not the command.
_ROOT_VALUES = ("--config", "-c", "--database", "--log-level", "--log-format")


def json_errors(args: list[str]) -> bool:
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


def failed(line: str, code: int, as_json: bool, details: dict[str, object] | None = None) -> int:
    """One line on stderr; with `run --json` also one object on stdout: the pass so far, `error`, `exit`."""
    typer.echo(line, err=True)
    if as_json:
        from monitor.core.readable import dumps

        message = line.removeprefix("error: ")
        typer.echo(dumps({**(details or {}), "error": message, "exit": code}, sort_keys=True))
    return code


def usage_line(exc: Exception) -> str:
    """One line, as every other error: click's message and where the help is (its usual four-line block
    would be read by log collectors as four events)."""
    message = " ".join((getattr(exc, "format_message", None) or exc.__str__)().split())
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"Error: {message}{hint}"
