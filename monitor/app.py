"""The composition root: the one place where config, database, Truv client and clock meet.

Only the entry points import it (the CLI, the demo, the scheduler, the webhook receiver's factory); what
they build is handed down as a `monitor.services.Context` (sends nothing) or `Services` (sends).
"""

from __future__ import annotations

import httpx

from monitor.clock import Clock, SystemClock
from monitor.config import DEFAULT_DATABASE_URL, JobsFile, Settings
from monitor.services import Context, Services
from monitor.store.db import Engine, open_database
from monitor.store.pace import SharedPacer
from monitor.truv.client import TruvClient, build_http
from monitor.truv.pacer import LocalPacer, Pacer
from monitor.truv.secrets import token_hash

__all__ = [
    "Context",
    "Services",
    "build",
    "build_client",
    "build_services",
    "connect",
    "database_source",
    "database_url",
    "open_database",
]


def database_url(config: JobsFile, settings: Settings, override: str | None) -> str:
    """--database, then MONITOR_DATABASE_URL (or _FILE), then jobs.yaml, then the SQLite default."""
    return override or settings.database_url or config.database.url or DEFAULT_DATABASE_URL


def database_source(config: JobsFile, settings: Settings, override: str | None) -> str:
    """Where the URL `database_url` picked came from, for an error about it to name."""
    if override:
        return "--database"
    if settings.database_url:
        return "MONITOR_DATABASE_URL"
    return "database.url"


def build_client(
    config: JobsFile,
    settings: Settings,
    clock: Clock,
    *,
    transport: httpx.BaseTransport | None = None,
    client_id: str | None = None,
    secret: str | None = None,
    engine: Engine | None = None,
) -> TruvClient:
    """With `engine`, pacing is shared by every process on that database (Truv's limit is per secret)."""
    if client_id is None or secret is None:
        client_id, secret = settings.require_credentials()
    base_url = settings.base_url or config.truv.base_url
    http = build_http(base_url, client_id, secret, config.truv.timeout_seconds, transport=transport)
    pacer: Pacer
    if engine is not None:
        key = token_hash(f"{client_id}:{secret}")[:32]  # the limit is per secret; never store the secret
        pacer = SharedPacer(engine, key=key, requests_per_minute=config.truv.requests_per_minute, clock=clock)
    else:
        pacer = LocalPacer(config.truv.requests_per_minute, clock)
    return TruvClient(http, pacer=pacer, clock=clock)


def build(
    config: JobsFile,
    settings: Settings,
    *,
    database: str | None = None,
    clock: Clock | None = None,
    auto_upgrade: bool = True,
) -> Context:
    """The database opened (SQLite upgraded, Postgres checked) and a clock: nothing can be sent from it."""
    return Context(
        config=config,
        engine=open_database(
            database_url(config, settings, database),
            auto_upgrade=auto_upgrade,
            source=database_source(config, settings, database),
        ),
        clock=clock or SystemClock(),
    )


def connect(context: Context, settings: Settings) -> Services:
    """`context` with a Truv client from the environment's credentials, paced through its database."""
    client = build_client(context.config, settings, context.clock, engine=context.engine)
    return context.sending(client)


def build_services(
    config: JobsFile,
    settings: Settings,
    *,
    database: str | None = None,
    clock: Clock | None = None,
) -> Services:
    """`build`, then `connect`: for commands that send to Truv."""
    return connect(build(config, settings, database=database, clock=clock), settings)
