"""`monitor console`: serve the operator console, and manage who may sign in to it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli.console_users import add_user, disable_user, list_users
from monitor.cli.context import refuse_without_audit_key, root_options
from monitor.errors import InputError

if TYPE_CHECKING:
    from monitor.console.security import Access

console_app = typer.Typer(
    help=(
        "The operator console: a web page for passes, budgets, the backlog, the re-auth queue and changes.\n\n"
        "Add a user first (`monitor console add-user NAME --role viewer|operator`), then `monitor console` "
        "and open http://127.0.0.1:8081/. Viewers read; operators may also create Bridge update-mode tokens."
    ),
    invoke_without_command=True,
)


def access_from(
    trusted_user_header: str | None,
    trusted_proxy: list[str] | None,
    secure: bool | None,
    *,
    host: str,
    allowed_hosts: list[str] | None = None,
) -> Access:
    """How the console decides who is asking. A proxy is trusted only when named: by default any local
    process could claim to be one. Served only under the Host names given (default: the bind address and
    the loopback names), so a DNS name pointed at it by someone else is refused."""
    from monitor.console.security import LOCAL_NAMES, Access, host_name

    if trusted_user_header is not None and not trusted_proxy:
        raise InputError("--trusted-user-header", trusted_user_header, "needs --trusted-proxy (the proxy's address)")
    hosts = frozenset(host_name(h) for h in allowed_hosts) if allowed_hosts else LOCAL_NAMES | {host_name(host)}
    return Access(
        trusted_user_header=trusted_user_header,
        trusted_proxies=frozenset(trusted_proxy or ()),
        secure_cookies=secure,
        allowed_hosts=hosts,
    )


@console_app.callback()
def console(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Interface to bind. Keep 127.0.0.1 unless a proxy in front needs more.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 picks a free one and prints it).")] = 8081,
    trusted_user_header: Annotated[
        str | None,
        typer.Option(
            "--trusted-user-header",
            help="Behind an authenticating proxy: the header naming the signed-in user (e.g. X-Forwarded-User). "
            "Believed only from --trusted-proxy; the user must exist (add-user NAME --role R --no-password).",
        ),
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            help="Address of the proxy (repeatable; none by default). Its X-Forwarded-For gives the client's "
            "address for the sign-in limits; --trusted-user-header needs it.",
        ),
    ] = None,
    allowed_hosts: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-hosts",
            help="Host header the console answers to (repeatable; default the --host address, localhost, "
            "127.0.0.1 and ::1). Anything else is 400.",
        ),
    ] = None,
    secure_cookies: Annotated[
        bool | None,
        typer.Option(
            "--secure-cookies/--no-secure-cookies",
            help="Mark cookies Secure (default: when the request came over HTTPS, or X-Forwarded-Proto from the proxy).",
        ),
    ] = None,
) -> None:
    """Serve the console until stopped (Ctrl-C, SIGTERM)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from monitor.app import connect
    from monitor.console.app import create_app
    from monitor.listening import bind_port, listening_line

    c = root_options(ctx)
    cfg = c.config(required=False)
    context = c.context(cfg)
    refuse_without_audit_key(context)  # an operator's action (a Bridge token) is an audit entry
    # Credentials are needed only for the token action; without them the console still reads.
    services = connect(context, c.settings) if c.settings.client_id and c.settings.secret else None
    access = access_from(trusted_user_header, trusted_proxy, secure_cookies, host=host, allowed_hosts=allowed_hosts)
    sock = bind_port(host, port)
    typer.echo(listening_line(sock), err=True)
    if services is None:
        typer.echo("no TRUV_CLIENT_ID: the console reads, but cannot create update-mode tokens", err=True)
    app = create_app(context, services=services, access=access)
    uvicorn.Server(uvicorn.Config(app, proxy_headers=False, **server_options())).run(sockets=[sock])


def server_options() -> dict[str, Any]:
    """The receiver's connection limits (a head deadline, a connection cap, a head size), which a console
    behind a proxy or on a shared host needs as much: a half-sent head must not hold a socket for ever."""
    from monitor.webhooks.receiver import uvicorn_options

    return uvicorn_options(max_connections=CONSOLE_CONNECTIONS, per_address=CONSOLE_CONNECTIONS)


# Connections at once; beyond it uvicorn answers 503. Operators' browsers need a few each; a proxy in front
# may hold more, and 200 parallel sign-in guesses must meet the sign-in limits, not this one.
CONSOLE_CONNECTIONS = 256


# After the callback, in this order: `monitor console --help` lists them as registered.
console_app.command("add-user")(add_user)
console_app.command("users")(list_users)
console_app.command("disable-user")(disable_user)
