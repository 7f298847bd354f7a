"""Scenario files: a seeded sandbox from YAML or JSON (`load_scenario_file`).

Also the one door to seeding from outside: orders from mappings (order_mappings.py) and generated loan
portfolios (portfolio.py) are importable from here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.clock import Clock
from monitor.sandbox.employer_spec import EmployerSpec
from monitor.sandbox.order_mappings import add_order_from_mapping
from monitor.sandbox.portfolio import generate_portfolio
from monitor.sandbox.portfolio_result import Portfolio
from monitor.sandbox.scenario_settings import sandbox_settings
from monitor.sandbox.state import Sandbox

__all__ = [
    "EmployerSpec",
    "LoadedScenario",
    "Portfolio",
    "add_order_from_mapping",
    "generate_portfolio",
    "load_scenario_file",
]


@dataclass
class LoadedScenario:
    """A seeded sandbox plus what `serve` needs; `loans` holds generated portfolio rows."""

    sandbox: Sandbox
    latency: float = 0.0
    loans: Portfolio = field(default_factory=lambda: Portfolio())
    webhook_url: str | None = None


_TOP_KEYS = frozenset({"seed", "settings", "orders", "portfolio"})


def load_scenario_file(
    path: str | Path, *, clock: Clock | None = None, journal_path: str | Path | None = None
) -> LoadedScenario:
    """Build a seeded sandbox from a YAML or JSON file; errors name the file and the key.

    Keys: `seed`; `settings` (rpm|requests_per_minute, refresh_limit_per_token,
    refresh_limit_status (400, 403 or 429: the status of the "Refresh limit for the
    access_token exceeded" refusal), finalize_at_refresh (finalize every original order when
    its Nth refresh order is created), completion_delay, latency, secrets, client_ids, faults
    as a `Faults.parse` string or a mapping, webhook_url (where `serve` POSTs webhooks; also
    `LoadedScenario.webhook_url`), webhook_secret (signs them), webhook_duplicates (a rate),
    webhook_reorder (a bool), suborder_completed_at (a bool: suborders also show a
    `completed_at`, which Truv does not document; default false));
    `orders` (a list of `add_order` mappings, explicit ids allowed): order_id, user_id,
    order_number, products, first_name, last_name, created_at, completed_at (ISO timestamps),
    forbidden (bool), finalized / expired (true or an ISO timestamp), finalize_at_refresh (N),
    employers / financial_accounts (lists of `EmployerSpec` mappings: access_token, link_id,
    scenario, company, id, suborder_number, completed_at, status_style ("standard" or
    "sent_with_last_task"), link_deleted (bool), changes (scripted changes, below));
    `portfolio` (`generate_portfolio` arguments: n, seed, gse_share, shared_token_share,
    failing_share, stale_share, stale_age_days, fresh_age_days, include_data_as_of,
    scripted_changes (kind -> count or share), scripted_at_refresh (N or a list),
    scripted_pay_cut ("15%" or 0.15)). An employer's `changes` (one mapping or a list):
    `{at_refresh: N, KIND: true}` with KIND job_loss, employer_change, missed_pay,
    derived_inactive, rehire, job_type_change or pay_frequency_change, or
    `{at_refresh: N, pay_cut: "15%"}`.
    """
    source = Path(path)
    data = _read(source)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ValueError(f"{source}: unknown keys {unknown}; expected some of {sorted(_TOP_KEYS)}")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise ValueError(f"{source}: settings: expected a mapping")
    kwargs, latency = sandbox_settings(source, settings)
    try:
        sandbox = Sandbox(seed=int(data.get("seed", 0)), clock=clock, journal_path=journal_path, **kwargs)
    except ValueError as exc:
        raise ValueError(f"{source}: settings.{exc}") from None
    orders = data.get("orders") or []
    if not isinstance(orders, list):
        raise ValueError(f"{source}: orders: expected a list")
    for index, order in enumerate(orders):
        if not isinstance(order, dict):
            raise ValueError(f"{source}: orders[{index}]: expected a mapping")
        add_order_from_mapping(sandbox, order, f"{source}: orders[{index}]")
    loans = _portfolio(source, sandbox, data.get("portfolio"))
    return LoadedScenario(sandbox=sandbox, latency=latency, loans=loans, webhook_url=sandbox.webhook_url)


def _read(source: Path) -> dict[str, Any]:
    text = source.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if source.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"{source}: cannot parse: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping at the top level")
    return data


_PORTFOLIO_FLOATS = frozenset(
    {"gse_share", "shared_token_share", "failing_share", "stale_share", "stale_age_days", "fresh_age_days"}
)
_PORTFOLIO_SCRIPTED = frozenset({"scripted_changes", "scripted_at_refresh", "scripted_pay_cut"})


def _portfolio_spec(source: Path, spec: object) -> tuple[dict[str, Any], bool]:
    """The `portfolio` mapping, checked, and its include_data_as_of."""
    allowed = {"n", "seed", "include_data_as_of", *_PORTFOLIO_FLOATS, *_PORTFOLIO_SCRIPTED}
    if not isinstance(spec, dict) or "n" not in spec or set(spec) - allowed:
        optional = sorted(allowed - {"n"})
        raise ValueError(f"{source}: portfolio: expected a mapping with n and optionally {optional}")
    include = spec.get("include_data_as_of", False)
    if not isinstance(include, bool):
        raise ValueError(f"{source}: portfolio.include_data_as_of: expected true or false, got {include!r}")
    return spec, include


def _portfolio(source: Path, sandbox: Sandbox, spec: Any) -> Portfolio:
    if spec is None:
        return Portfolio()
    spec, include = _portfolio_spec(source, spec)
    options: dict[str, Any] = {key: float(value) for key, value in spec.items() if key in _PORTFOLIO_FLOATS}
    options.update((key, value) for key, value in spec.items() if key in _PORTFOLIO_SCRIPTED)
    try:
        return generate_portfolio(
            sandbox, int(spec["n"]), seed=int(spec.get("seed", 0)), include_data_as_of=include, **options
        )
    except ValueError as exc:
        raise ValueError(f"{source}: portfolio.{exc}") from None
