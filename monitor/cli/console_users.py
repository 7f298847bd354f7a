"""`monitor console add-user`, `users` and `disable-user`: who may sign in to the console."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from monitor.cli.context import root_options
from monitor.errors import InputError

ROLE_HELP = "viewer (reads every page) or operator (may also create Bridge update-mode tokens)"


def _password(name: str, from_stdin: bool) -> str:
    from monitor.core.passwords import password_problem

    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password, name=name)
    if problem is not None:
        raise InputError("password", name, problem)
    return password


def add_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's name (what they type to sign in, or what the proxy sends).")],
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP)] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin (no prompt).")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Signs in only through --trusted-user-header (no password).")
    ] = False,
) -> None:
    """Add a console user, or change an existing one's role and password (and re-enable it).

    The password (12 characters or more) is asked twice, or read from stdin; only its argon2id hash is kept.
    """
    from monitor.console.security import ROLES
    from monitor.core.passwords import hash_password
    from monitor.store import console_users
    from monitor.store.db import session

    if role not in ROLES:
        raise InputError("--role", "", f"expected viewer or operator, got {role!r}")
    if not name.strip() or len(name) > 128 or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise InputError("NAME", name[:40], "expected 1 to 128 printable characters without spaces")
    hashed = None if no_password else hash_password(_password(name, password_stdin))
    c = root_options(ctx)
    context = c.context()
    with session(context.engine) as s:
        added = console_users.put_user(s, name=name, role=role, password_hash=hashed, now=context.clock.now())
    typer.echo(f"{'added' if added else 'updated'} console user {name} ({role})")


def list_users(ctx: typer.Context) -> None:
    """The console's users: role, how they sign in, whether disabled."""
    from monitor.store import console_users
    from monitor.store.db import read_only, session

    c = root_options(ctx)
    context = c.context()
    with session(read_only(context.engine)) as s:
        rows = console_users.users(s)
    if not rows:
        typer.echo("no console users; add one with `monitor console add-user NAME --role viewer|operator`")
    for u in rows:
        how = "password" if u.password_hash else "proxy header only"
        standing = f"disabled {u.disabled_at:%Y-%m-%d}" if u.disabled_at else "enabled"
        typer.echo(f"{u.name}\t{u.role}\t{how}\t{standing}")


def disable_user(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The user to disable (their sessions end now).")]
) -> None:
    """Disable a console user and sign them out everywhere."""
    from monitor.store import console_users
    from monitor.store.db import session

    c = root_options(ctx)
    context = c.context()
    with session(context.engine) as s:
        if not console_users.disable_user(s, name, now=context.clock.now()):
            raise InputError("NAME", name, "no such console user (see `monitor console users`)")
    typer.echo(f"disabled console user {name}")
