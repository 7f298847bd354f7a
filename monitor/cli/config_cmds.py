"""`monitor check-config` and `monitor init`: jobs.yaml checked, and a first one written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.context import (
    RootOptions,
    policy_warnings,
    root_options,
)
from monitor.config import JobsFile
from monitor.errors import MonitorError

if TYPE_CHECKING:
    pass


def check_config(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: ok, file, errors (where, message), warnings.")
    ] = False,
) -> None:
    """Validate jobs.yaml: exit 0 when it is good (warnings on stderr), 2 listing every problem found, each with
    the key, line and what was expected."""
    from monitor.errors import ConfigError

    c = root_options(ctx)
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


def _existing_loans_warnings(c: RootOptions, cfg: JobsFile) -> list[str]:
    """Policies no imported loan matches, when there is a database to look in (none is created for it)."""
    from monitor.app import build, database_source, database_url
    from monitor.store.db import parse_url

    url = database_url(cfg, c.settings, c.database)
    parsed = parse_url(url, source=database_source(cfg, c.settings, c.database))
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return []
    try:
        context = build(cfg, c.settings, database=c.database, auto_upgrade=False)
        return policy_warnings(context)
    except MonitorError as exc:
        return [f"loans not checked against the policies: {exc}"]


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
    declare_near_misses: Annotated[
        bool,
        typer.Option(
            "--declare-near-misses",
            help="Declare columns that look like a known one (closing_dt) as attributes without asking.",
        ),
    ] = False,
) -> None:
    """Write a commented starting jobs.yaml (a policy, a job, the database and truv sections).

    An existing file is left alone (exit 2) unless --force. The file written passes check-config.
    With --from, a column that looks like a known one (`closing_dt` for `closing_date`) is asked about
    at a terminal; elsewhere it is exit 2 naming it, unless --declare-near-misses.
    """
    from monitor.errors import ConfigError
    from monitor.starter import extra_columns, render

    target = out or root_options(ctx).config_path
    attributes = extra_columns(from_file) if from_file is not None else []
    if from_file is not None:
        _confirm_near_misses(from_file, attributes, declare_near_misses)
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


def _confirm_near_misses(from_file: Path, attributes: list[str], declare: bool) -> None:
    """A typo of a known column, declared as an attribute, imports quietly and switches its rule off (a
    misspelt closing_date turns pre-closing off): asked at a terminal, refused elsewhere."""
    import sys

    from monitor.errors import ImportFileError
    from monitor.starter import near_misses

    for column, known in near_misses(attributes).items():
        if declare:
            continue
        question = f"{from_file}: column {column!r} looks like {known!r}; declare it as an attribute anyway?"
        if sys.stdin.isatty() and typer.confirm(question, default=False, err=True):
            continue
        raise ImportFileError(
            str(from_file),
            f"row 1 (header), column {column!r}",
            f"did you mean {known!r}? Rename the column, or keep it as an attribute with "
            "--declare-near-misses; nothing was written",
        )
