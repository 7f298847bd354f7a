"""`monitor sandbox serve`: the built-in Truv simulator over HTTP."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.errors import InputError

if TYPE_CHECKING:
    pass

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


# A realistic month of a monitored book, for `monitor changes` to find (shares of the generated loans).
REHEARSAL_CHANGES: Mapping[str, float] = {
    "job_loss": 0.02,
    "pay_cut": 0.04,
    "employer_change": 0.02,
    "missed_pay": 0.03,
}


def _feasible(shares: Mapping[str, float] | None, n: int) -> dict[str, int] | None:
    """The shares as counts; a book too small for a share gets none of that kind rather than an error."""
    if not shares:
        return None
    return {kind: round(share * n) for kind, share in shares.items() if round(share * n) > 0} or None


def serve_sandbox(
    *,
    host: str,
    port: int,
    seed: int,
    scenario: Path | None,
    generate: int,
    loans_out: Path | None,
    scripted: Mapping[str, float] | None = None,
    latency: float,
    rpm: int,
    completion_delay: float,
    faults: str | None,
    journal: Path | None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    refresh_limit_status: int | None = None,
) -> None:
    """`refresh_limit_status` (--refresh-limit-status: 400, 403 or 429) is the HTTP status of the
    "Refresh limit for the access_token exceeded" refusal; None keeps the scenario's (else 400)."""
    from monitor.sandbox import Faults, Sandbox, serve
    from monitor.sandbox.scenario import generate_portfolio, load_scenario_file
    from monitor.sandbox.state import REFRESH_LIMIT_CODES

    try:
        parsed_faults = Faults.parse(faults) if faults else None
    except ValueError as exc:
        raise InputError("--faults", "", str(exc)) from None
    if refresh_limit_status is not None and refresh_limit_status not in REFRESH_LIMIT_CODES:
        allowed = ", ".join(map(str, REFRESH_LIMIT_CODES))
        raise InputError("--refresh-limit-status", "", f"expected one of {allowed}, got {refresh_limit_status}")
    if scenario is not None:
        try:
            loaded = load_scenario_file(scenario, journal_path=journal)
        except (ValueError, OSError) as exc:
            raise InputError(str(scenario), "", str(exc)) from None
        sandbox, latency = loaded.sandbox, latency or loaded.latency
        rows: list[dict[str, str]] = loaded.loans
        if parsed_faults is not None:
            sandbox.faults = parsed_faults
        if refresh_limit_status is not None:
            sandbox.refresh_limit_status = refresh_limit_status
    else:
        sandbox = Sandbox(
            seed=seed,
            requests_per_minute=rpm,
            completion_delay=completion_delay,
            faults=parsed_faults,
            journal_path=journal,
            webhook_secret=webhook_secret,
            refresh_limit_status=refresh_limit_status or 400,
        )
        rows = []
    if generate:
        # At the first refresh: the original order is the baseline, so one run shows them in `monitor changes`.
        rows = generate_portfolio(
            sandbox, generate, seed=seed, scripted_changes=_feasible(scripted, generate), scripted_at_refresh=1
        )
    if rows:
        target = loans_out or Path("sandbox-loans.csv")
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {len(rows)} loans to {target}", flush=True)
    if webhook_url and webhook_secret and sandbox.webhook_secret is None:
        sandbox.webhook_secret = webhook_secret
    serve(sandbox, host=host, port=port, latency=latency, webhook_url=webhook_url)
