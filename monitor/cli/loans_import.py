"""`monitor loans import`: a loans file into the book, checked against jobs.yaml's declared columns."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.context import RootOptions, one_of, refuse_without_audit_key, root_options
from monitor.config import JobsFile

if TYPE_CHECKING:
    from monitor.loans_file import Declared


def _declared(c: RootOptions, config: JobsFile, file: Path) -> Declared:
    """What `loans import` accepts beyond the known columns: jobs.yaml's `loans.attributes`."""
    from monitor.loans_file import Declared

    hint = (
        "" if c.config_path.exists() else f" ({c.config_path} does not exist: `monitor init --from {file}` writes one)"
    )
    return Declared(frozenset(config.loans.attributes), str(c.config_path), hint)


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
            callback=lambda value: None if value is None else one_of("first", "last")(value),
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
    from monitor.loans_file import read_rows
    from monitor.progress import counted, for_terminal
    from monitor.store.db import session
    from monitor.store.loan_import import import_loans
    from monitor.store.loan_import_rows import FUTURE_ALLOWANCE, RepeatedLoanId
    from monitor.store.loan_repeats import Repeats, find_repeats

    c = root_options(ctx)
    services = c.context()
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
            from monitor.store.audit_details import LoansImported
            from monitor.store.ledger import add_event

            add_event(
                s,
                at=now,
                kind="loans_imported",
                detail=LoansImported(
                    file=str(file),
                    rows=result.rows,
                    inserted=result.inserted,
                    updated=result.updated,
                    closed=result.closed,
                    full_snapshot=full_snapshot,
                    forced=force and full_snapshot,
                    dedupe=dedupe,
                    dropped=repeats.rows,
                ),
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
        "unchanged": result.unchanged,
        "closed": result.closed,
        **({"dropped": repeats.rows, "dedupe": dedupe} if dedupe else {}),
    }
    if as_json:
        typer.echo(json.dumps(out))
    else:
        typer.echo(
            f"{file}: {result.rows} loans ({result.inserted} new, {result.updated} updated, "
            f"{result.unchanged} unchanged"
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
