"""`monitor sandbox serve`: the built-in Truv simulator over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.sandbox_serve import REHEARSAL_CHANGES, serve_sandbox

sandbox_app = typer.Typer(help="The built-in Truv simulator used by the demo and the tests.", no_args_is_help=True)


@sandbox_app.command("serve")
def sandbox_serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 picks a free one and prints it).")] = 8765,
    seed: Annotated[int, typer.Option(help="Seed for ids and generated data.")] = 0,
    scenario: Annotated[Path | None, typer.Option(help="YAML/JSON scenario file: settings and orders.")] = None,
    generate: Annotated[int, typer.Option(min=0, help="Generate N orders and write a matching loans CSV.")] = 0,
    changes: Annotated[
        bool,
        typer.Option(
            "--changes/--no-changes",
            help="With --generate: script job losses (2%), pay cuts (4%), employer changes (2%) and missed pay "
            "(3%), seen at a loan's first refresh.",
        ),
    ] = True,
    loans_out: Annotated[
        Path | None, typer.Option("--loans-out", help="Where --generate writes the loans CSV.")
    ] = None,
    latency: Annotated[float, typer.Option(min=0, help="Seconds of latency added to every request.")] = 0.0,
    rpm: Annotated[int, typer.Option("--rpm", min=1, help="Requests per minute before 429.")] = 300,
    completion_delay: Annotated[float, typer.Option(min=0, help="Seconds before a refresh order completes.")] = 5.0,
    faults: Annotated[
        str | None,
        typer.Option(
            help='Faults, e.g. "5xx=0.1,429=0.05,retry_after=2,slow=0.02:40,drop=0.05,malformed=0.02,404=0.01".'
        ),
    ] = None,
    journal: Annotated[
        Path | None, typer.Option(help="Append every request the sandbox handled to this JSONL file.")
    ] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option("--webhook-url", help="Send signed Truv webhooks here, e.g. http://127.0.0.1:8080/webhooks/truv."),
    ] = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            "--webhook-secret", help="Secret that signs the webhooks [default: env TRUV_SECRET or TRUV_SECRET_FILE]."
        ),
    ] = None,
    refresh_limit_status: Annotated[
        int | None,
        typer.Option(
            "--refresh-limit-status",
            help='HTTP status of Truv\'s per-token refusal ("Refresh limit for the access_token exceeded"): 400, 403 or 429.',
        ),
    ] = None,
) -> None:
    """Serve the Truv simulator over HTTP, to rehearse `monitor` against it before using Truv.

    `monitor` finds it through three variables, which it prints once listening, ready to paste:

    \b
      export TRUV_BASE_URL=http://HOST:PORT/v1/
      export TRUV_CLIENT_ID=sandbox          (any id)
      export TRUV_SECRET=sandbox-rehearsal   (any secret starting with "sandbox")

    A rehearsal: `monitor sandbox serve --generate 200 --loans-out loans.csv &`, the exports above,
    then `monitor init --from loans.csv`, `monitor loans import loans.csv`, `monitor plan`,
    `monitor run --wait 30`, `monitor changes`. --generate scripts a realistic share of changes
    (job loss, pay cut, employer change, missed pay) for `monitor changes` to find; --no-changes leaves
    every borrower as verified.
    """
    from monitor.config import secret_from_env

    serve_sandbox(
        host=host,
        port=port,
        seed=seed,
        scenario=scenario,
        generate=generate,
        scripted=REHEARSAL_CHANGES if changes else None,
        loans_out=loans_out,
        latency=latency,
        rpm=rpm,
        completion_delay=completion_delay,
        faults=faults,
        journal=journal,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret or secret_from_env("TRUV_SECRET"),
        refresh_limit_status=refresh_limit_status,
    )
