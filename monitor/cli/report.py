"""`monitor report`: the compliance report for a period."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.context import (
    output_path,
    parse_date,
    root_options,
    tz_option,
)
from monitor.errors import InputError

# `report --out`'s extension picks the format when --format is not given.
_REPORT_FORMATS = {".csv": "csv", ".json": "json", ".html": "html", ".htm": "html"}


def report_cmd(
    ctx: typer.Context,
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")],
    date_to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (UTC), included.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, json or html (default: from --out's extension, else html)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where to write it (CSV also writes STEM-exceptions.csv); default monitor-report.FORMAT.",
        ),
    ] = None,
    pre_closing_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=60,
            help="Business days of the pre-closing window for every loan, overriding each policy's "
            "pre_closing_business_days; every loan closing in the period is then judged (default: only "
            "loans a policy with a window matches).",
        ),
    ] = None,
    tz: Annotated[
        str,
        typer.Option(
            "--tz",
            help="Time zone of the CSV and HTML times (IANA name, e.g. America/New_York; each time then names "
            "its zone). The period's days stay UTC; JSON stays ISO 8601 with the offset.",
        ),
    ] = "UTC",
) -> None:
    """Per-loan pulls, budgets and outcomes for a period, the exceptions, and totals with charts (HTML)."""
    from monitor.reports.compliance import build as build_report
    from monitor.reports.compliance import write

    fmt = _format(fmt, out)
    zone = tz_option(tz)
    out = output_path(out if out is not None else Path(f"monitor-report.{fmt}"), "--out")
    start, end = parse_date(date_from, "--from"), parse_date(date_to, "--to")
    if end < start:
        raise InputError("--to", "", f"{end} is before --from {start}")
    c = root_options(ctx)
    services = c.context()
    data = build_report(services, start=start, end=end, now=services.clock.now(), pre_closing_days=pre_closing_days)
    try:
        files = write(data, fmt, out, zone=zone)
    except OSError as exc:
        raise InputError("--out", "", f"cannot write {out}: {exc.strerror or exc}") from None
    typer.echo(
        f"wrote {', '.join(map(str, files))}: {data['totals']['loans']} loans, {data['totals']['refreshes']} refreshes"
    )


def _format(fmt: str | None, out: Path | None) -> str:
    """--format, else --out's extension, else html; the two must agree when both are given."""
    if fmt is not None and fmt not in ("csv", "json", "html"):
        raise InputError("--format", "", f"expected csv, json or html, got {fmt!r}")
    by_ext = _REPORT_FORMATS.get(out.suffix.lower()) if out is not None else None
    if fmt is not None and by_ext is not None and fmt != by_ext:
        raise InputError("--format", "", f"{fmt} conflicts with --out {out} (a .{by_ext} file); drop one")
    return fmt or by_ext or "html"
