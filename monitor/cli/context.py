"""What every command shares: the root options, the database and audit-key checks, option parsers."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.config import JobsFile, Settings, load_config
from monitor.errors import InputError

if TYPE_CHECKING:
    from monitor.services import Context

# The largest --limit: a LIMIT past a 64-bit integer crashes the database driver (issue 25 point 15).
MAX_LIMIT = 1_000_000_000


@dataclass
class RootOptions:
    config_path: Path
    config_given: bool
    database: str | None
    settings: Settings

    def config(self, *, required: bool = True) -> JobsFile:
        """jobs.yaml; commands that only need the database accept its absence."""
        if not required and not self.config_given and not self.config_path.exists():
            return JobsFile()
        return load_config(self.config_path)

    def context(self, config: JobsFile | None = None, *, required: bool = False) -> Context:
        """The composition root for this command: jobs.yaml (given, or read; `required` when the command
        cannot run without it), the settings and the database (SQLite upgraded, Postgres checked)."""
        from monitor.app import build

        cfg = config if config is not None else self.config(required=required)
        return build(cfg, self.settings, database=self.database)


def root_options(ctx: typer.Context) -> RootOptions:
    obj = ctx.find_root().obj
    assert isinstance(obj, RootOptions)
    return obj


def set_actor(command: str | None) -> None:
    """Who the audit trail names: the daemon and the receiver act for the system, other commands for a person."""
    import getpass
    import os
    import socket

    from monitor.store.audit import ACTOR

    host = socket.gethostname()
    if command in ("schedule", "webhooks"):
        ACTOR.set(f"{command}@{host}:{os.getpid()}")
    elif command == "run" and not os.isatty(0):
        ACTOR.set(f"run@{host}:{os.getpid()}")  # cron, systemd, Kubernetes
    else:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        ACTOR.set(f"operator:{user}@{host}")


def refuse_without_audit_key(context: Context) -> None:
    """For a command that writes audit entries: once the chain is keyed (`audit verify --seal`), no key is
    exit 2 before anything is changed, never a plain entry that breaks the chain for good."""
    from monitor.store.audit import require_key
    from monitor.store.db import read_only, session

    with session(read_only(context.engine)) as s:
        require_key(s)


def warn_if_password(url: str) -> None:
    """A password in --database is readable by every local user (ps, /proc) and stays in shell history."""
    import structlog

    from monitor.errors import ConfigError
    from monitor.store.db import mask_password, parse_url

    try:
        parse_url(url)
    except ConfigError:
        return  # refused with its own one-line error when the database is opened
    if mask_password(url) != url:
        structlog.get_logger().warning(
            "database_password_on_command_line",
            hint="set MONITOR_DATABASE_URL_FILE (a file holding the URL), MONITOR_DATABASE_URL, or PGPASSFILE instead",
        )


def one_of(*choices: str) -> Callable[[str], str]:
    """An option callback accepting only `choices` (any case): anything else is a usage error, exit 2."""

    def check(value: str) -> str:
        if value.lower() not in choices:
            raise typer.BadParameter(f"expected {', '.join(choices[:-1])} or {choices[-1]}, got {value!r}")
        return value.lower()

    return check


def tz_option(name: str) -> tzinfo:
    """`--tz`: the one zone a command's tables show times in (JSON stays ISO 8601 with its offset)."""
    from monitor.core.readable import zone

    try:
        return zone(name)
    except ValueError as exc:
        raise InputError("--tz", "", str(exc)) from None


TzOption = Annotated[
    str, typer.Option("--tz", help="Time zone of the tables' times (IANA name, e.g. America/New_York).")
]


# Dates an option accepts: wide enough for any report, far from the calendar edges.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def output_path(path: Path, option: str) -> Path:
    """A file to write: its folder is created if missing (0700 under the umask), but a folder or a
    path through a file is refused before any work is done."""
    from monitor.errors import InputError

    if path.is_dir():
        raise InputError(option, "", f"{path} is a folder; give a file name")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise InputError(option, "", f"{parent} is a file, not a folder")
    return path


def parse_date(value: str, option: str) -> date:
    from monitor.errors import InputError

    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InputError(option, "", f"expected a date as YYYY-MM-DD, got {value!r}") from None
    # Reports and retention add and subtract days and months: near year 1 or 9999 that overflows.
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InputError(option, "", f"expected a date between {FIRST_DAY} and {LAST_DAY}, got {value!r}")
    return day


def policy_warnings(context: Context, names: Collection[str] | None = None) -> list[str]:
    """A policy (of `names`, else every one) whose `match` no active loan meets: a silent no-op otherwise."""
    from monitor.store.db import read_only, session
    from monitor.store.policy_reach import unmatched_policies

    policies = [(p.name, p.match) for p in context.config.policies if names is None or p.name in names]
    with session(read_only(context.engine)) as s:
        return unmatched_policies(s, policies)
