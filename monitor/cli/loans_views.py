"""`monitor loans show` and `monitor loans list`: one loan in full, or one line per loan."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.context import MAX_LIMIT, TzOption, root_options, tz_option
from monitor.errors import InputError


def loans_show(
    ctx: typer.Context,
    loan_id: Annotated[str, typer.Argument(help="The loan_id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    tz: TzOption = "UTC",
) -> None:
    """One loan: policies matched, connections and budget use, what the next pass would do and why, orders, outcomes, findings, audit."""
    from monitor.core.readable import dumps
    from monitor.render.loan import print_loan
    from monitor.reports.loan_view import loan_show

    zone = tz_option(tz)
    c = root_options(ctx)
    services = c.context()
    view = loan_show(services, loan_id, now=services.clock.now())
    if as_json:
        typer.echo(dumps(view, sort_keys=True))
    else:
        print_loan(view, zone)


def loans_list(
    ctx: typer.Context,
    stale: Annotated[bool, typer.Option("--stale", help="Only loans stale for at least one matching policy.")] = False,
    policy: Annotated[str | None, typer.Option("--policy", help="Only loans this policy matches.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only loans whose last skip reason is this.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=MAX_LIMIT, help="At most N loans.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    tz: TzOption = "UTC",
) -> None:
    """One line per loan: status, data date, hold, last outcome, last skip reason."""
    from monitor.core.readable import dumps
    from monitor.render.loans import print_loans
    from monitor.reports.loan_view import loan_list

    zone = tz_option(tz)
    if reason is not None:
        reason = _skip_reason(reason)
    c = root_options(ctx)
    services = c.context()
    view = loan_list(services, now=services.clock.now(), stale=stale, policy=policy, reason=reason, limit=limit)
    if as_json:
        typer.echo(dumps(view, sort_keys=True))
    else:
        print_loans(view, zone)


def _skip_reason(value: str) -> str:
    """A skip reason as the passes record it; anything else is exit 2 with the nearest one."""
    import difflib

    from monitor.core.states import SkipReason

    known = [r.value for r in SkipReason]
    if value in known:
        return value
    close = difflib.get_close_matches(value.lower(), known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InputError("--reason", "", f"unknown skip reason {value!r}{hint} (reasons: {', '.join(known)})")
