"""`monitor sandbox serve`: build a sandbox from flags or a scenario file and serve it over HTTP."""

from __future__ import annotations

import csv
from pathlib import Path

from monitor.errors import InputError


def serve_sandbox(
    *,
    host: str,
    port: int,
    seed: int,
    scenario: Path | None,
    generate: int,
    loans_out: Path | None,
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
        rows = generate_portfolio(sandbox, generate, seed=seed)
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
