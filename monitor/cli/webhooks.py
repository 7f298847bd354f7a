"""`monitor webhooks`: receive Truv's webhooks, and count what arrived."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.context import (
    refuse_without_audit_key,
    root_options,
)

if TYPE_CHECKING:
    pass

webhooks_app = typer.Typer(help="Receive Truv's webhooks: outcomes as they happen.", no_args_is_help=True)


@webhooks_app.command("serve")
def webhooks_serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0 in a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port.")] = 8080,
    path: Annotated[str, typer.Option(help="Path Truv posts to.")] = "/webhooks/truv",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (2 on a 2-core machine doubles the rate).")] = 1,
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections",
            min=1,
            help="Connections at once, per worker; past it, probes only (64 per client address).",
        ),
    ] = 512,
    body_timeout: Annotated[
        float, typer.Option("--body-timeout", min=0.1, help="Seconds a client has to send a request body; then 408.")
    ] = 10.0,
    keep_alive_timeout: Annotated[
        int,
        typer.Option(
            "--keep-alive-timeout", min=1, help="Seconds an idle connection, or one still sending its headers, is kept."
        ),
    ] = 5,
) -> None:
    """Receive Truv webhooks: verify X-WEBHOOK-SIGN with TRUV_SECRET, store, acknowledge, apply. /healthz for probes.

    Bodies are cut at 256 KiB (413); an event that is signed but cannot be applied is kept as `invalid`.
    """
    import logging
    import os

    import uvicorn

    from monitor.app import database_url
    from monitor.errors import ConfigError
    from monitor.listening import bind_port, listening_line
    from monitor.webhooks.receiver import create_app, uvicorn_options

    c = root_options(ctx)
    if not c.settings.secret:
        raise ConfigError("environment", "TRUV_SECRET", "not set; webhooks are verified with the access secret")
    cfg = c.config(required=False)
    services = c.context(cfg)  # upgrades SQLite, checks Postgres, before serving
    refuse_without_audit_key(services)  # applying a webhook writes audit entries
    limits = uvicorn_options(max_connections=max_connections, keep_alive=keep_alive_timeout)
    # A port that cannot be bound is exit 1 with one line, before anything is served.
    sock = bind_port(host, port)
    typer.echo(listening_line(sock), err=True)
    if workers > 1:
        sock.close()  # the workers bind it themselves (SO_REUSEADDR, as uvicorn does)
        os.environ["MONITOR_DATABASE_URL"] = database_url(cfg, c.settings, c.database)
        os.environ["MONITOR_WEBHOOK_PATH"] = path
        os.environ["MONITOR_WEBHOOK_BODY_TIMEOUT"] = str(body_timeout)
        os.environ["MONITOR_LOG_LEVEL"] = logging.getLevelName(logging.getLogger().level).lower()
        if c.config_path.exists():  # budgets.clock_skew_margin
            os.environ["MONITOR_CONFIG"] = str(c.config_path.resolve())
        uvicorn.run("monitor.asgi:receiver", factory=True, host=host, port=port, workers=workers, **limits)
        return
    config = uvicorn.Config(
        create_app(
            services,
            secret=c.settings.secret,
            path=path,
            body_timeout=body_timeout,
            metrics_token=c.settings.metrics_token,
        ),
        host=host,
        port=port,
        **limits,
    )
    uvicorn.Server(config).run(sockets=[sock])


@webhooks_app.command("status")
def webhooks_status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Webhooks received, by state (applied, stale, unmatched, ignored, recorded, invalid) and by type, and why
    events are invalid. Webhooks refused before storing (bad signature, too large) are counted by the receiver's
    /metrics (monitor_webhooks_rejected_total)."""
    from monitor.render.webhooks import print_webhooks
    from monitor.store.webhook_events import counts

    c = root_options(ctx)
    services = c.context()
    if as_json:
        typer.echo(json.dumps(counts(services), sort_keys=True))
    else:
        print_webhooks(counts(services))
