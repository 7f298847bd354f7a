"""Serving the Truv simulator: its options checked, a scenario or a seeded sandbox, a generated book
written as a loans file."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import InputError

if TYPE_CHECKING:
    from monitor.sandbox import Faults, Sandbox


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
    from monitor.sandbox import Sandbox, serve
    from monitor.sandbox.scenario import generate_portfolio

    parsed_faults = _faults(faults, refresh_limit_status)
    rows: list[dict[str, str]] = []
    if scenario is not None:
        sandbox, latency, rows = _from_scenario(scenario, journal, latency, parsed_faults, refresh_limit_status)
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
    if generate:
        # At the first refresh: the original order is the baseline, so one run shows them in `monitor changes`.
        rows = generate_portfolio(
            sandbox, generate, seed=seed, scripted_changes=_feasible(scripted, generate), scripted_at_refresh=1
        )
    if rows:
        _write_loans(rows, loans_out or Path("sandbox-loans.csv"))
    if webhook_url and webhook_secret and sandbox.webhook_secret is None:
        sandbox.webhook_secret = webhook_secret
    serve(sandbox, host=host, port=port, latency=latency, webhook_url=webhook_url)


def _faults(faults: str | None, refresh_limit_status: int | None) -> Faults | None:
    """The options the simulator's own parsers check, refused as bad input (exit 2)."""
    from monitor.sandbox import Faults
    from monitor.sandbox.state import REFRESH_LIMIT_CODES

    try:
        parsed = Faults.parse(faults) if faults else None
    except ValueError as exc:
        raise InputError("--faults", "", str(exc)) from None
    if refresh_limit_status is not None and refresh_limit_status not in REFRESH_LIMIT_CODES:
        allowed = ", ".join(map(str, REFRESH_LIMIT_CODES))
        raise InputError("--refresh-limit-status", "", f"expected one of {allowed}, got {refresh_limit_status}")
    return parsed


def _from_scenario(
    scenario: Path, journal: Path | None, latency: float, faults: Faults | None, refresh_limit_status: int | None
) -> tuple[Sandbox, float, list[dict[str, str]]]:
    """The scenario file's sandbox and loans; the command line's faults, status and latency win."""
    from monitor.sandbox.scenario import load_scenario_file

    try:
        loaded = load_scenario_file(scenario, journal_path=journal)
    except (ValueError, OSError) as exc:
        raise InputError(str(scenario), "", str(exc)) from None
    sandbox = loaded.sandbox
    if faults is not None:
        sandbox.faults = faults
    if refresh_limit_status is not None:
        sandbox.refresh_limit_status = refresh_limit_status
    return sandbox, latency or loaded.latency, loaded.loans


def _write_loans(rows: list[dict[str, str]], target: Path) -> None:
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} loans to {target}", flush=True)
