"""The composition root: the one place where config, database, Truv client and clock meet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from monitor.clock import Clock, SystemClock
from monitor.config import DEFAULT_DATABASE_URL, JobsFile, Settings
from monitor.core.budget import Limits
from monitor.errors import StorageError
from monitor.store.db import current_revision, head_revision, make_engine, upgrade
from monitor.store.pace import SharedPacer
from monitor.truv.client import TruvClient, build_http
from monitor.truv.pacer import Pacer
from monitor.truv.secrets import token_hash


@dataclass
class Services:
    config: JobsFile
    engine: Engine
    clock: Clock
    client: TruvClient | None  # None when nothing may be sent (plan, dry runs)

    @property
    def limits(self) -> Limits:
        b = self.config.budgets
        return Limits(
            per_token=b.per_token_per_24h,
            gse=b.gse_per_90d,
            gse_overage=b.gse_overage,
            billable_per_day=b.billable_per_day,
            clock_skew_margin=b.clock_skew_margin,
        )


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


def open_database(url: str, *, auto_upgrade: bool = True, source: str = "database url") -> Engine:
    """SQLite (one machine, one file) upgrades itself; a shared server is upgraded on purpose.

    On Postgres several instances share the schema, so an old binary must not migrate it under
    a newer one: it says what to run instead.
    """
    engine = make_engine(url, source=source)
    if engine.dialect.name == "sqlite":
        if auto_upgrade:
            upgrade(engine)
        return engine
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise StorageError(
            f"the database schema is at {current or 'nothing (empty database)'}, this monitor needs {head}: "
            "run `monitor db upgrade` once, then retry"
        )
    return engine


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
    extra: dict[str, Any] = {"transport": transport} if transport is not None else {}
    http = build_http(base_url, client_id, secret, config.truv.timeout_seconds, **extra)
    pacer: Pacer | SharedPacer
    if engine is not None:
        key = token_hash(f"{client_id}:{secret}")[:32]  # the limit is per secret; never store the secret
        pacer = SharedPacer(engine, key=key, requests_per_minute=config.truv.requests_per_minute, clock=clock)
    else:
        pacer = Pacer(config.truv.requests_per_minute, clock)
    return TruvClient(http, pacer=pacer, clock=clock)


def build(
    config: JobsFile,
    settings: Settings,
    *,
    database: str | None = None,
    clock: Clock | None = None,
    client: TruvClient | None = None,
    auto_upgrade: bool = True,
) -> Services:
    return Services(
        config=config,
        engine=open_database(
            database_url(config, settings, database),
            auto_upgrade=auto_upgrade,
            source=database_source(config, settings, database),
        ),
        clock=clock or SystemClock(),
        client=client,
    )
