"""Seeding the sandbox: orders from mappings, generated loan portfolios, scenario files."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from monitor.clock import Clock
from monitor.sandbox.faults import Faults
from monitor.sandbox.model import SCENARIOS, EmployerSpec

if TYPE_CHECKING:
    from monitor.sandbox.state import Sandbox

__all__ = [
    "EmployerSpec",
    "LoadedScenario",
    "add_order_from_mapping",
    "generate_portfolio",
    "load_scenario_file",
]

_ORDER_KEYS = frozenset(
    {
        "order_id",
        "user_id",
        "order_number",
        "products",
        "employers",
        "financial_accounts",
        "created_at",
        "first_name",
        "last_name",
    }
)
FAILING_SCENARIOS = tuple(s for s in SCENARIOS if s != "ok")
NON_GSE_PROGRAMS = ("fha", "va", "jumbo", "non_qm")
_COMPANIES = (
    "Acme Logistics",
    "Globex Corp",
    "Initech",
    "Umbrella Health",
    "Stark Industries",
    "Wayne Foods",
)


def add_order_from_mapping(sandbox: Sandbox, data: Mapping[str, Any], where: str = "order") -> dict[str, Any]:
    """`Sandbox.add_order` from JSON/YAML data; unknown keys are errors naming `where`."""
    unknown = sorted(set(data) - _ORDER_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; expected some of {sorted(_ORDER_KEYS)}")
    _require_strings(data, ("order_id", "user_id", "order_number", "first_name", "last_name"), where)
    kwargs = dict(data)
    for group in ("employers", "financial_accounts"):
        if group in kwargs:
            items = kwargs[group]
            if not isinstance(items, list):
                raise ValueError(f"{where}.{group}: expected a list")
            kwargs[group] = [EmployerSpec.from_mapping(item, f"{where}.{group}[{i}]") for i, item in enumerate(items)]
    if "products" in kwargs:
        kwargs["products"] = tuple(kwargs["products"])
    try:
        return sandbox.add_order(**kwargs)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _require_strings(data: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    # YAML reads an unquoted 0001 as the integer 1; refuse instead of guessing the id.
    for key in keys:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{where}.{key}: expected a string (quote it in YAML), got {value!r}")


@dataclass(frozen=True, slots=True)
class _Connection:
    access_token: str
    scenario: str
    company: str


def generate_portfolio(
    sandbox: Sandbox,
    n: int,
    *,
    seed: int,
    gse_share: float = 0.3,
    shared_token_share: float = 0.02,
    failing_share: float = 0.03,
) -> list[dict[str, str]]:
    """Seed `n` loans' orders and return their loans-CSV rows (all values are strings).

    Columns: loan_id, order_id, gse ("true"/"false"), status ("active"), closing_date and
    data_as_of (ISO dates), program. The order_number is the loan_id. About 15% of orders
    have two employers; `shared_token_share` of orders reuse an earlier order's connection
    (same borrower, same link); `failing_share` get a non-ok scenario.
    """
    rng = random.Random(seed)
    now = sandbox.clock.now()
    seen: list[_Connection] = []
    rows: list[dict[str, str]] = []
    for index in range(n):
        loan_id = f"LN{index + 1:06d}"
        gse = rng.random() < gse_share
        created_at = now - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 24 * 60 - 1))
        employers = [_employer(rng, seen, shared_token_share, failing_share) for _ in range(1 + (rng.random() < 0.15))]
        order = sandbox.add_order(
            order_number=loan_id,
            products=("employment",) if rng.random() < 0.1 else ("income",),
            employers=employers,
            created_at=created_at,
        )
        seen.extend(
            _Connection(e["access_token"], spec.scenario, spec.company)
            for e, spec in zip(order["employers"], employers, strict=True)
        )
        rows.append(
            {
                "loan_id": loan_id,
                "order_id": order["id"],
                "gse": "true" if gse else "false",
                "status": "active",
                "closing_date": (now + timedelta(days=rng.randint(-5, 60))).date().isoformat(),
                "data_as_of": created_at.date().isoformat(),
                "program": "conventional" if gse else rng.choice(NON_GSE_PROGRAMS),
            }
        )
    return rows


def _employer(rng: random.Random, seen: list[_Connection], shared_share: float, failing_share: float) -> EmployerSpec:
    if seen and rng.random() < shared_share:
        shared = rng.choice(seen)
        return EmployerSpec(access_token=shared.access_token, scenario=shared.scenario, company=shared.company)
    scenario = rng.choice(FAILING_SCENARIOS) if rng.random() < failing_share else "ok"
    return EmployerSpec(scenario=scenario, company=rng.choice(_COMPANIES))


@dataclass
class LoadedScenario:
    """A seeded sandbox plus what `serve` needs; `loans` holds generated portfolio rows."""

    sandbox: Sandbox
    latency: float = 0.0
    loans: list[dict[str, str]] = field(default_factory=list)
    webhook_url: str | None = None


_SETTINGS = {
    "requests_per_minute": "requests_per_minute",
    "rpm": "requests_per_minute",
    "refresh_limit_per_token": "refresh_limit_per_token",
    "completion_delay": "completion_delay",
    "secrets": "secrets",
    "client_ids": "client_ids",
    "webhook_url": "webhook_url",
    "webhook_secret": "webhook_secret",
    "webhook_duplicates": "webhook_duplicates",
    "webhook_reorder": "webhook_reorder",
}
_TOP_KEYS = frozenset({"seed", "settings", "orders", "portfolio"})


def load_scenario_file(
    path: str | Path, *, clock: Clock | None = None, journal_path: str | Path | None = None
) -> LoadedScenario:
    """Build a seeded sandbox from a YAML or JSON file; errors name the file and the key.

    Keys: `seed`; `settings` (rpm|requests_per_minute, refresh_limit_per_token,
    completion_delay, latency, secrets, client_ids, faults as a `Faults.parse` string or a
    mapping, webhook_url (where `serve` POSTs webhooks; also `LoadedScenario.webhook_url`),
    webhook_secret (signs them), webhook_duplicates (a rate), webhook_reorder (a bool));
    `orders` (a list of `add_order` mappings, explicit ids allowed); `portfolio`
    (`generate_portfolio` arguments: n, seed, gse_share, shared_token_share, failing_share).
    """
    from monitor.sandbox.state import Sandbox

    source = Path(path)
    data = _read(source)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ValueError(f"{source}: unknown keys {unknown}; expected some of {sorted(_TOP_KEYS)}")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise ValueError(f"{source}: settings: expected a mapping")
    kwargs, latency = _settings(source, settings)
    sandbox = Sandbox(seed=int(data.get("seed", 0)), clock=clock, journal_path=journal_path, **kwargs)
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


def _settings(source: Path, settings: dict[str, Any]) -> tuple[dict[str, Any], float]:
    kwargs: dict[str, Any] = {}
    latency = float(settings.get("latency", 0.0))
    for key, value in settings.items():
        if key in ("latency", "faults"):
            continue
        if key not in _SETTINGS:
            allowed = sorted({*_SETTINGS, "latency", "faults"})
            raise ValueError(f"{source}: settings: unknown key {key!r}; expected one of {allowed}")
        _check_webhook_setting(source, key, value)
        kwargs[_SETTINGS[key]] = tuple(value) if key in ("secrets", "client_ids") else value
    try:
        kwargs["faults"] = Faults.from_value(settings.get("faults"))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source}: settings.{exc}") from None
    return kwargs, latency


def _check_webhook_setting(source: Path, key: str, value: Any) -> None:
    if key in ("webhook_url", "webhook_secret") and value is not None and not isinstance(value, str):
        raise ValueError(f"{source}: settings.{key}: expected a string, got {value!r}")
    if key == "webhook_url" and isinstance(value, str) and not value.startswith(("http://", "https://")):
        raise ValueError(f"{source}: settings.webhook_url: expected an http(s) URL, got {value!r}")
    if key == "webhook_reorder" and not isinstance(value, bool):
        raise ValueError(f"{source}: settings.webhook_reorder: expected true or false, got {value!r}")
    if key == "webhook_duplicates" and (
        isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1
    ):
        raise ValueError(f"{source}: settings.webhook_duplicates: expected a rate between 0 and 1, got {value!r}")


def _portfolio(source: Path, sandbox: Sandbox, spec: Any) -> list[dict[str, str]]:
    if spec is None:
        return []
    allowed = {"n", "seed", "gse_share", "shared_token_share", "failing_share"}
    if not isinstance(spec, dict) or "n" not in spec or set(spec) - allowed:
        optional = sorted(allowed - {"n"})
        raise ValueError(f"{source}: portfolio: expected a mapping with n and optionally {optional}")
    return generate_portfolio(
        sandbox,
        int(spec["n"]),
        seed=int(spec.get("seed", 0)),
        **{key: float(value) for key, value in spec.items() if key not in ("n", "seed")},
    )
