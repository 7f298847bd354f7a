"""Seeding the sandbox: orders from mappings, generated loan portfolios, scenario files."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from monitor.clock import Clock
from monitor.sandbox.employment import CHANGE_KINDS, INCOME_ONLY_KINDS, parse_changes
from monitor.sandbox.faults import Faults
from monitor.sandbox.model import SCENARIOS, EmployerSpec, iso, parse_time
from monitor.sandbox.order_shapes import OrderJson
from monitor.sandbox.scripted_listing import ScriptedChangeJson
from monitor.sandbox.state import Sandbox

__all__ = [
    "EmployerSpec",
    "LoadedScenario",
    "Portfolio",
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
        "completed_at",
        "first_name",
        "last_name",
        "forbidden",
        "finalized",
        "expired",
        "finalize_at_refresh",
    }
)
DAY_SECONDS = 24 * 3600
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


def add_order_from_mapping(sandbox: Sandbox, data: Mapping[str, Any], where: str = "order") -> OrderJson:
    """`Sandbox.add_order` from JSON/YAML data; unknown keys are errors naming `where`."""
    _check_order_mapping(data, where)
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


def _check_order_mapping(data: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(data) - _ORDER_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; expected some of {sorted(_ORDER_KEYS)}")
    _require_strings(data, ("order_id", "user_id", "order_number", "first_name", "last_name"), where)
    for key in ("created_at", "completed_at"):
        # YAML reads an unquoted timestamp as a datetime; both forms are fine.
        if data.get(key) is not None and not isinstance(data[key], str | datetime):
            raise ValueError(f"{where}.{key}: expected an ISO-8601 timestamp, got {data[key]!r}")
    for key in ("finalized", "expired"):
        if key in data and not isinstance(data[key], bool | str | datetime):
            raise ValueError(f"{where}.{key}: expected true, false or an ISO-8601 timestamp, got {data[key]!r}")


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


class Portfolio(list[dict[str, str]]):
    """The loans-file rows `generate_portfolio` returns, plus what only a test may know.

    `truth_completed_at` maps each loan_id to its order's order-level `completed_at` (when its data was
    collected; ISO, `Z`); it is never a column of the rows, so it cannot leak into a
    loans file. `scripted` maps each loan given a scripted change to its [(kind, at_refresh)],
    and `scripted_detail` to the matching `Sandbox.scripted_changes()` entries (link_id,
    employment_id, new_employment_id, ...); loans not in them are unchanged. Compares equal
    to a plain list of the same rows.
    """

    def __init__(
        self,
        rows: Iterable[dict[str, str]] = (),
        truth_completed_at: Mapping[str, str] | None = None,
        scripted: Mapping[str, list[tuple[str, int]]] | None = None,
        scripted_detail: Mapping[str, list[ScriptedChangeJson]] | None = None,
    ) -> None:
        super().__init__(rows)
        self.truth_completed_at: dict[str, str] = dict(truth_completed_at or {})
        self.scripted: dict[str, list[tuple[str, int]]] = {k: list(v) for k, v in (scripted or {}).items()}
        self.scripted_detail: dict[str, list[ScriptedChangeJson]] = {
            k: list(v) for k, v in (scripted_detail or {}).items()
        }

    def stale_loan_ids(self, older_than_days: float, now: datetime) -> set[str]:
        """Loans whose data (oldest connection) is more than `older_than_days` old at `now`."""
        limit = now - timedelta(days=older_than_days)
        return {loan for loan, moment in self.truth_completed_at.items() if parse_time(moment) < limit}


def generate_portfolio(
    sandbox: Sandbox,
    n: int,
    *,
    seed: int,
    gse_share: float = 0.3,
    shared_token_share: float = 0.02,
    failing_share: float = 0.03,
    stale_share: float | None = None,
    stale_age_days: float = 45.0,
    fresh_age_days: float = 5.0,
    include_data_as_of: bool = False,
    scripted_changes: Mapping[str, int | float] | None = None,
    scripted_at_refresh: int | Sequence[int] = 2,
    scripted_pay_cut: str | float = "15%",
) -> Portfolio:
    """Seed `n` loans' orders and return their loans-file rows (all values are strings).

    Columns: loan_id, order_id, gse ("true"/"false"), status ("active"), closing_date (ISO
    date), program, and only with `include_data_as_of` a data_as_of (the order's order-level
    `completed_at`, ISO with `Z`). The order_number is the loan_id. About 15% of orders have
    two employers; `shared_token_share` of orders reuse an earlier order's connection (same
    borrower, same link); `failing_share` get a non-ok scenario.

    Data dates (the orders' `completed_at`): without `stale_share`, 1 to 121 days old. With
    it, exactly round(stale_share * n) orders, picked by the seeded RNG, are between
    `stale_age_days` and `stale_age_days` + 1 days old, and the rest at most `fresh_age_days`
    old. `Portfolio.truth_completed_at` / `stale_loan_ids` tell a test which is which.

    Scripted changes: `scripted_changes` maps a change kind (job_loss, pay_cut,
    employer_change, missed_pay, derived_inactive, rehire, job_type_change,
    pay_frequency_change) to a number of loans (an int) or a share of `n` (a float below 1,
    rounded). Each picked loan gets one change on one of its employers (picked too), at
    refresh `scripted_at_refresh` (an int, or a list to draw from per loan; default 2, since a
    monitor's first report read after refresh 1 is its baseline); pay_cut takes
    `scripted_pay_cut` ("15%" or 0.15). Only loans whose connections are all `ok` and used by
    no other loan are picked, and the income-only kinds (pay_cut, missed_pay,
    pay_frequency_change) only on income orders; too few such loans is a ValueError. The
    picks use their own RNG, so every row, order and id is the same as without them.
    `Portfolio.scripted` / `scripted_detail` say which loan got what.
    """
    _check_ages(stale_share, stale_age_days, fresh_age_days)
    counts = _change_counts(scripted_changes, n)
    at_choices = _at_refresh_choices(scripted_at_refresh)
    pay_cut = parse_changes({"at_refresh": 1, "pay_cut": scripted_pay_cut}, "scripted_pay_cut")[0].pay_cut
    rng = random.Random(seed)
    now = sandbox.clock.now()
    stale = set(rng.sample(range(n), round(stale_share * n))) if stale_share is not None else set()
    ages = _Ages(stale_share is not None, stale, stale_age_days, fresh_age_days)
    shares = _Shares(gse_share, shared_token_share, failing_share)
    maker = _LoanMaker(sandbox, rng, now, ages, shares, include_data_as_of)
    seeded = [maker.make(index) for index in range(n)]
    truth = {loan.loan_id: loan.row_truth for loan in seeded}
    portfolio = Portfolio([loan.row for loan in seeded], truth)
    if counts:
        script = _Scripting(sandbox, random.Random(f"sandbox-portfolio-changes:{seed}"), at_choices, str(pay_cut))
        script.run(seeded, counts, portfolio)
    return portfolio


def _check_ages(stale_share: float | None, stale_age_days: float, fresh_age_days: float) -> None:
    if stale_share is None:
        return
    if not 0.0 <= stale_share <= 1.0:
        raise ValueError(f"stale_share: expected a share between 0 and 1, got {stale_share!r}")
    if not 0.0 <= fresh_age_days < stale_age_days:
        raise ValueError(
            f"expected 0 <= fresh_age_days < stale_age_days, got {fresh_age_days!r} and {stale_age_days!r}"
        )


@dataclass(frozen=True, slots=True)
class _Ages:
    """How old a generated loan's data is: 1 to 121 days, or stale / fresh when a stale share is asked."""

    split: bool  # a stale share was asked
    stale: set[int]  # the loans (by index) whose data is stale
    stale_age_days: float
    fresh_age_days: float

    def completed_at(self, rng: random.Random, index: int, now: datetime) -> datetime:
        if not self.split:
            return now - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 24 * 60 - 1))
        if index in self.stale:
            return now - timedelta(seconds=round(DAY_SECONDS * (self.stale_age_days + rng.random())))
        return now - timedelta(seconds=round(DAY_SECONDS * self.fresh_age_days * rng.random()))


@dataclass(frozen=True, slots=True)
class _Shares:
    gse: float
    shared_token: float
    failing: float


@dataclass(frozen=True, slots=True)
class _Loan:
    """One generated loan: its row, its order as seeded and the specs it was seeded from."""

    loan_id: str
    row: dict[str, str]
    row_truth: str  # the order's completed_at, ISO `Z`
    order: OrderJson
    specs: list[EmployerSpec]


@dataclass(slots=True)
class _LoanMaker:
    """Seeds one loan after another, drawing from one RNG in a fixed order (the same seed, the same book)."""

    sandbox: Sandbox
    rng: random.Random
    now: datetime
    ages: _Ages
    shares: _Shares
    include_data_as_of: bool
    seen: list[_Connection] = field(default_factory=list)

    def make(self, index: int) -> _Loan:
        rng = self.rng
        loan_id = f"LN{index + 1:06d}"
        gse = rng.random() < self.shares.gse
        completed_at = self.ages.completed_at(rng, index, self.now)
        # The borrower connected a little while after the order was created.
        created_at = completed_at - timedelta(minutes=rng.randint(1, 180))
        employers = [self._employer() for _ in range(1 + (rng.random() < 0.15))]
        order = self.sandbox.add_order(
            order_number=loan_id,
            products=("employment",) if rng.random() < 0.1 else ("income",),
            employers=employers,
            created_at=created_at,
            completed_at=completed_at,
        )
        self.seen.extend(
            _Connection(e["access_token"], spec.scenario, spec.company)
            for e, spec in zip(order["employers"], employers, strict=True)
        )
        row = {
            "loan_id": loan_id,
            "order_id": order["id"],
            "gse": "true" if gse else "false",
            "status": "active",
            "closing_date": (self.now + timedelta(days=rng.randint(-5, 60))).date().isoformat(),
        }
        if self.include_data_as_of:
            row["data_as_of"] = iso(completed_at)
        row["program"] = "conventional" if gse else rng.choice(NON_GSE_PROGRAMS)
        return _Loan(loan_id, row, iso(completed_at), order, employers)

    def _employer(self) -> EmployerSpec:
        rng = self.rng
        if self.seen and rng.random() < self.shares.shared_token:
            shared = rng.choice(self.seen)
            return EmployerSpec(access_token=shared.access_token, scenario=shared.scenario, company=shared.company)
        scenario = rng.choice(FAILING_SCENARIOS) if rng.random() < self.shares.failing else "ok"
        return EmployerSpec(scenario=scenario, company=rng.choice(_COMPANIES))


@dataclass(slots=True)
class _Scripting:
    """Picks the loans that get a scripted change, with an RNG of its own (so the book is unchanged)."""

    sandbox: Sandbox
    rng: random.Random
    at_choices: list[int]
    pay_cut: str

    def run(self, loans: list[_Loan], counts: dict[str, int], portfolio: Portfolio) -> None:
        eligible = _eligible(loans)
        taken: set[int] = set()
        for kind in CHANGE_KINDS:
            wanted = counts.get(kind, 0)
            pool = [i for i in eligible if i not in taken and _fits(kind, loans[i].order)]
            if wanted > len(pool):
                raise ValueError(
                    f"scripted_changes: {wanted} loans wanted for {kind} but only {len(pool)} eligible ones are left "
                    "(all connections ok and unshared; income orders for pay_cut, missed_pay, pay_frequency_change)"
                )
            for index in sorted(self.rng.sample(pool, wanted)):
                taken.add(index)
                self._script(loans[index], kind, portfolio)

    def _script(self, loan: _Loan, kind: str, portfolio: Portfolio) -> None:
        employers = loan.order["employers"]
        employer = employers[self.rng.randrange(len(employers))]
        at_refresh = self.rng.choice(self.at_choices)
        change = {"at_refresh": at_refresh, kind: self.pay_cut if kind == "pay_cut" else True}
        entries = self.sandbox.script_changes(employer["link_id"], change, suborder_number=employer["suborder_number"])
        portfolio.scripted.setdefault(loan.loan_id, []).append((kind, at_refresh))
        portfolio.scripted_detail.setdefault(loan.loan_id, []).extend(entries)


def _eligible(loans: list[_Loan]) -> list[int]:
    """The loans (by index) whose connections are all `ok` and used by no other loan."""
    tokens = Counter(e["access_token"] for loan in loans for e in loan.order["employers"])
    return [
        index
        for index, loan in enumerate(loans)
        if all(spec.scenario == "ok" for spec in loan.specs)
        and all(tokens[e["access_token"]] == 1 for e in loan.order["employers"])
    ]


def _fits(kind: str, order: OrderJson) -> bool:
    """The income-only kinds need an income order."""
    return kind not in INCOME_ONLY_KINDS or "income" in order["products"]


def _change_counts(value: Mapping[str, int | float] | None, n: int) -> dict[str, int]:
    """`scripted_changes` -> loans per kind: an int is a count, a float below 1 a share of n."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"scripted_changes: expected a mapping of change kind to a count or share, got {value!r}")
    unknown = sorted(str(k) for k in set(value) - set(CHANGE_KINDS))
    if unknown:
        raise ValueError(f"scripted_changes: unknown kinds {unknown}; expected some of {list(CHANGE_KINDS)}")
    return {kind: _count(kind, amount, n) for kind, amount in value.items()}


def _count(kind: str, amount: object, n: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
        raise ValueError(f"scripted_changes.{kind}: expected a count or a share of loans, got {amount!r}")
    if isinstance(amount, float) and not amount < 1:
        raise ValueError(f"scripted_changes.{kind}: a share must be below 1 (give a count as an int), got {amount!r}")
    return amount if isinstance(amount, int) else round(amount * n)


def _at_refresh_choices(value: int | Sequence[int]) -> list[int]:
    choices = [value] if isinstance(value, int) else list(value) if isinstance(value, Sequence) else []
    if not choices or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in choices):
        raise ValueError(f"scripted_at_refresh: expected a whole number >= 1 or a list of them, got {value!r}")
    return choices


@dataclass
class LoadedScenario:
    """A seeded sandbox plus what `serve` needs; `loans` holds generated portfolio rows."""

    sandbox: Sandbox
    latency: float = 0.0
    loans: Portfolio = field(default_factory=lambda: Portfolio())
    webhook_url: str | None = None


_SETTINGS = {
    "requests_per_minute": "requests_per_minute",
    "rpm": "requests_per_minute",
    "refresh_limit_per_token": "refresh_limit_per_token",
    "refresh_limit_status": "refresh_limit_status",
    "finalize_at_refresh": "finalize_at_refresh",
    "completion_delay": "completion_delay",
    "secrets": "secrets",
    "client_ids": "client_ids",
    "webhook_url": "webhook_url",
    "webhook_secret": "webhook_secret",
    "webhook_duplicates": "webhook_duplicates",
    "webhook_reorder": "webhook_reorder",
    "suborder_completed_at": "suborder_completed_at",
}
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
    kwargs, latency = _settings(source, settings)
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


def _check_webhook_setting(source: Path, key: str, value: object) -> None:
    """The checks a setting's value passes before `Sandbox` sees it (which checks ranges itself)."""
    for check in _SETTING_CHECKS.get(key, ()):
        expected = check(value)
        if expected is not None:
            raise ValueError(f"{source}: settings.{key}: {expected}, got {value!r}")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string_or_none(value: object) -> str | None:
    return None if value is None or isinstance(value, str) else "expected a string"


def _http_url(value: object) -> str | None:
    return (
        None if not isinstance(value, str) or value.startswith(("http://", "https://")) else "expected an http(s) URL"
    )


def _status(value: object) -> str | None:
    return None if _whole(value) else "expected 400, 403 or 429"


def _whole_or_none(value: object) -> str | None:
    return None if _whole(value) or value is None else "expected a whole number"


def _boolean(value: object) -> str | None:
    return None if isinstance(value, bool) else "expected true or false"


def _rate(value: object) -> str | None:
    rate = not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value <= 1
    return None if rate else "expected a rate between 0 and 1"


# Per setting, its checks in order: each says what it expected, or None when the value passes.
_SETTING_CHECKS: dict[str, tuple[Callable[[object], str | None], ...]] = {
    "webhook_url": (_string_or_none, _http_url),
    "webhook_secret": (_string_or_none,),
    "refresh_limit_status": (_status,),
    "finalize_at_refresh": (_whole_or_none,),
    "webhook_reorder": (_boolean,),
    "suborder_completed_at": (_boolean,),
    "webhook_duplicates": (_rate,),
}


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
