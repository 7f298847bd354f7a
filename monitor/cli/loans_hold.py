"""`monitor loans hold` and `monitor loans release`: an operator sets a loan aside, or lets it go, audited."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.context import refuse_without_audit_key, root_options
from monitor.errors import InputError


def loans_hold(
    ctx: typer.Context,
    loan_id: Annotated[str, typer.Argument(help="The loan_id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record and `loans show` (required).")],
) -> None:
    """Set a loan aside until someone releases it: no pass refreshes it (audited, with who and why)."""
    _hold_or_release(ctx, loan_id, reason, hold=True)


def loans_release(
    ctx: typer.Context,
    loan_id: Annotated[str, typer.Argument(help="The loan_id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record (required).")],
) -> None:
    """Release a loan set aside (by an operator, a 403, refusals, a finalized order) and any wait it has.

    The next pass reads its order again first. Audited, with who and why."""
    _hold_or_release(ctx, loan_id, reason, hold=False)


def _hold_or_release(ctx: typer.Context, loan_id: str, reason: str, *, hold: bool) -> None:
    from monitor.store import loan_refresh
    from monitor.store.db import session

    why = reason.strip()
    if not why or not why.isprintable():
        raise InputError("--reason", "", "expected a short printable text saying why")
    c = root_options(ctx)
    context = c.context()
    refuse_without_audit_key(context)
    now = context.clock.now()
    with session(context.engine) as s:
        if hold:
            done = loan_refresh.hold_by_operator(s, loan_id, why=why, now=now)
            before = None
        else:
            before = loan_refresh.release(s, loan_id, why=why, now=now)
            done = before is not None
    if not done:
        raise InputError("loan", loan_id, "no such loan; see `monitor loans list`")
    if hold:
        typer.echo(f"{loan_id}: held (manual_review, operator_hold): {why}")
    elif before is not None and before[0] is not None:
        typer.echo(f"{loan_id}: released from {before[0]} ({before[1] or '-'}); the next pass reads its order again")
    else:
        typer.echo(f"{loan_id}: was not held; any wait cleared, the next pass reads its order again")
