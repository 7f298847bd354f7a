"""`monitor reauth`: connections that need the borrower, handed back through Bridge update mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.context import (
    refuse_without_audit_key,
    root_options,
)
from monitor.errors import InputError

if TYPE_CHECKING:
    pass

reauth_app = typer.Typer(
    help="Hand connections that need the borrower back to the lender (Bridge update mode).", no_args_is_help=True
)


@reauth_app.command("list")
def reauth_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Loans whose connection needs the borrower to reconnect, and loans that need a new order
    (finalized or expired order, deleted connection) or a person (403 `forbidden`): why, since when."""
    from monitor.core.readable import dumps
    from monitor.render.waiting import print_reauth, print_set_aside
    from monitor.reports.reauth import needing_reauth, set_aside

    c = root_options(ctx)
    services = c.context()
    now = services.clock.now()
    rows = needing_reauth(services, now=now)
    aside = set_aside(services, now=now)
    if as_json:
        # Each row says what it needs: "reauth" (the borrower reconnects) or what set the loan aside.
        out = [{"needs": "reauth", **{k: v for k, v in r.items() if k != "token_hash"}} for r in rows]
        typer.echo(dumps(out + aside))
    else:
        print_reauth(rows)
        print_set_aside(aside)


@reauth_app.command("token")
def reauth_token(
    ctx: typer.Context,
    loan_id: Annotated[str, typer.Argument(help="The loan whose borrower must reconnect.")],
    product: Annotated[
        str | None,
        typer.Option(
            help="Bridge product_type (income, employment, assets, transactions, insurance); default: each "
            "connection's own (income or employment for an employer, assets for a financial account).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a Bridge update-mode token (valid 6 h) for each of the loan's connections needing re-auth.

    The token is printed for the lender's borrower-facing system and never stored.
    """
    from monitor.app import connect
    from monitor.core.products import BRIDGE_PRODUCTS
    from monitor.core.readable import dumps
    from monitor.jobs.reauth import create_tokens

    if product is not None and product not in BRIDGE_PRODUCTS:
        raise InputError("--product", "", f"expected one of {', '.join(BRIDGE_PRODUCTS)}, got {product!r}")
    c = root_options(ctx)
    cfg = c.config(required=False)
    context = c.context(cfg)
    refuse_without_audit_key(context)
    services = connect(context, c.settings)
    tokens = create_tokens(services, loan_id=loan_id, product=product)
    if as_json:
        typer.echo(dumps(tokens))
    else:
        for t in tokens:
            typer.echo(
                f"{t['loan_id']} connection {t['token']} ({t['reason']}, {t['product']}): "
                f"bridge_token {t['bridge_token']} "
                f"valid until {t['expires_at']:%Y-%m-%d %H:%M} UTC"
            )
