"""`monitor schedule`: the daemon running jobs.yaml's jobs on their cron, with /healthz and /metrics (and
webhooks) on one port and the operator console on another."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.context import refuse_without_audit_key, root_options

if TYPE_CHECKING:
    import uvicorn

    from monitor.cli.context import RootOptions
    from monitor.config import JobsFile
    from monitor.scheduler import Daemon
    from monitor.services import Services


def schedule(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface for /healthz, /metrics (and webhooks).")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port for /healthz and /metrics; 0 serves nothing.")
    ] = 8080,
    webhooks: Annotated[
        bool, typer.Option("--webhooks", help="Also receive Truv webhooks at /webhooks/truv (needs TRUV_SECRET).")
    ] = False,
    console: Annotated[
        bool, typer.Option("--console", help="Also serve the operator console (see `monitor console --help`).")
    ] = False,
    console_host: Annotated[str, typer.Option("--console-host", help="Interface for the console.")] = "127.0.0.1",
    console_port: Annotated[int, typer.Option("--console-port", min=0, max=65535, help="Port for the console.")] = 8081,
) -> None:
    """Run the jobs of jobs.yaml on their cron and timezone until stopped (SIGTERM/SIGINT).

    One pass per job at a time, missed fire times coalesced, a 6 h misfire grace, and on start a
    catch-up: a job whose last finished pass is older than its previous fire time runs once.
    """
    from monitor.app import connect
    from monitor.listening import bind_port, install_signal_handlers
    from monitor.scheduler import Daemon

    c = root_options(ctx)
    cfg = c.config()
    _check(c, cfg, webhooks=webhooks)
    # A port that cannot be bound is an error now (exit 1), not a daemon without /healthz and /metrics.
    sock = bind_port(host, port) if port else None
    console_sock = bind_port(console_host, console_port) if console else None
    context = c.context(cfg)
    refuse_without_audit_key(context)
    services = connect(context, c.settings)
    stop = threading.Event()
    install_signal_handlers(stop)
    daemon = Daemon(services, stop=stop)
    server = _serve_http(sock, (host, port), c, services, daemon, webhooks=webhooks) if sock is not None else None
    if console_sock is not None:
        _serve_console(console_sock, services, console_host)
    caught_up = daemon.start()
    typer.echo(
        f"scheduling {', '.join(j.name for j in cfg.jobs)}"
        + (f"; catching up {', '.join(caught_up)}" if caught_up else ""),
        err=True,
    )
    daemon.wait()
    if server is not None:
        server.should_exit = True


def _check(c: RootOptions, cfg: JobsFile, *, webhooks: bool) -> None:
    from monitor.errors import ConfigError

    if not cfg.jobs:
        raise ConfigError(str(c.config_path), "jobs", "no job to schedule")
    if webhooks and not c.settings.secret:
        raise ConfigError("environment", "TRUV_SECRET", "not set; webhooks are verified with the access secret")


def _serve_http(
    sock: socket.socket,
    where: tuple[str, int],
    c: RootOptions,
    services: Services,
    daemon: Daemon,
    *,
    webhooks: bool,
) -> uvicorn.Server:
    """/healthz and /metrics, and with --webhooks Truv's webhooks, on a thread of their own."""
    import uvicorn

    from monitor.listening import listening_line
    from monitor.webhooks.receiver import create_app, uvicorn_options

    app_ = create_app(
        services,
        secret=c.settings.secret if webhooks else None,
        health=daemon.health,
        metrics_token=c.settings.metrics_token,
    )
    # The daemon's port may face Truv too (--webhooks): the same connection limits as `webhooks serve`.
    server = uvicorn.Server(uvicorn.Config(app_, host=where[0], port=where[1], **uvicorn_options()))
    # uvicorn listens for signals only from the main thread, so ours (SIGTERM/SIGINT) stay in charge.
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="http", daemon=True).start()
    typer.echo(listening_line(sock), err=True)
    return server


def _serve_console(sock: socket.socket, services: Services, host: str) -> None:
    import uvicorn

    from monitor.cli.console import access_from, server_options
    from monitor.console.app import create_app as console_app_for
    from monitor.listening import listening_line

    # Its own port, on 127.0.0.1 by default: the daemon's port may face Truv, the console must not.
    access = access_from(None, None, None, host=host)
    console_server = uvicorn.Server(
        uvicorn.Config(
            console_app_for(services, services=services, access=access), proxy_headers=False, **server_options()
        )
    )
    threading.Thread(target=console_server.run, kwargs={"sockets": [sock]}, name="console", daemon=True).start()
    typer.echo(f"console {listening_line(sock)}", err=True)
