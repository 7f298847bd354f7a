"""`monitor purge`: audit detail and raw webhook bodies past retention removed, the chain kept verifiable."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from monitor.cli.context import parse_date, root_options
from monitor.errors import InputError, MonitorError

RETENTION_MONTHS = 25


def _months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the last day of a shorter month)."""
    import calendar

    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return day.replace(year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1]))


def purge_cmd(
    ctx: typer.Context,
    before: Annotated[
        str | None,
        typer.Option("--before", help="Remove audit detail before this day (default and latest: 25 months ago)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Allow a --before later than the 25-month retention boundary.")
    ] = False,
) -> None:
    """Remove audit entries and raw webhook bodies past retention, keeping the chain verifiable from a
    checkpoint signed with MONITOR_AUDIT_KEY. A broken chain is not purged (that would remove the evidence)."""
    from monitor.core.staleness import start_of_day_utc
    from monitor.errors import ConfigError
    from monitor.store.audit import KEY_ENV, audit_key, purge, verify
    from monitor.store.db import read_only, session

    key = audit_key()
    if not key:
        raise ConfigError("environment", KEY_ENV, "not set; it signs the checkpoint that keeps the chain verifiable")
    c = root_options(ctx)
    services = c.context()
    now = services.clock.now()
    boundary = _months_before(now.date(), RETENTION_MONTHS)
    day = parse_date(before, "--before") if before else boundary
    if day > now.date():  # --force or not: today's entries, and anything later, are never purged
        raise InputError("--before", "", f"{day} is after today ({now.date()}): audit detail is never purged past now")
    if day > boundary and not force:
        raise InputError(
            "--before",
            "",
            f"{day} is later than the retention boundary {boundary} ({RETENTION_MONTHS} months ago): that would "
            "remove audit detail still inside retention; add --force to do it anyway",
        )
    with session(read_only(services.engine)) as s:
        checked = verify(s, key=key)
    if not checked["ok"] and checked["reason"] != "unsealed":
        raise MonitorError(f"audit chain does not verify, not purged: {checked['message']}")
    with session(services.engine) as s:
        result = purge(s, before=start_of_day_utc(day), key=key, now=now, forced=force)
    typer.echo(
        f"removed {result['removed']} audit entries and {result['webhook_events_removed']} webhook events "
        f"(raw bodies) from before {day}"
        + (
            f"; kept {result['webhook_events_kept_unapplied']} webhook events not applied yet"
            if result["webhook_events_kept_unapplied"]
            else ""
        )
        + ("; the chain verifies from a signed checkpoint" if result["removed"] else "")
    )
