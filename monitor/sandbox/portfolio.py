"""Generated loan portfolios: `generate_portfolio` seeds n loans' orders and returns their loans-file
rows, drawing from one seeded RNG in a fixed order (the same seed, the same book)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.sandbox.employer_changes import parse_changes
from monitor.sandbox.employer_spec import EmployerSpec
from monitor.sandbox.model import SCENARIOS, iso
from monitor.sandbox.portfolio_changes import Scripting, at_refresh_choices, change_counts
from monitor.sandbox.portfolio_result import Portfolio, SeededLoan
from monitor.sandbox.state import Sandbox

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
    counts = change_counts(scripted_changes, n)
    at_choices = at_refresh_choices(scripted_at_refresh)
    pay_cut = parse_changes({"at_refresh": 1, "pay_cut": scripted_pay_cut}, "scripted_pay_cut")[0].pay_cut
    rng = random.Random(seed)
    now = sandbox.clock.now()
    stale = set(rng.sample(range(n), round(stale_share * n))) if stale_share is not None else set()
    ages = _Ages(stale_share is not None, stale, stale_age_days, fresh_age_days)
    shares = _Shares(gse_share, shared_token_share, failing_share)
    maker = SeededLoanMaker(sandbox, rng, now, ages, shares, include_data_as_of)
    seeded = [maker.make(index) for index in range(n)]
    truth = {loan.loan_id: loan.row_truth for loan in seeded}
    portfolio = Portfolio([loan.row for loan in seeded], truth)
    if counts:
        script = Scripting(sandbox, random.Random(f"sandbox-portfolio-changes:{seed}"), at_choices, str(pay_cut))
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


@dataclass(slots=True)
class SeededLoanMaker:
    """Seeds one loan after another, drawing from one RNG in a fixed order (the same seed, the same book)."""

    sandbox: Sandbox
    rng: random.Random
    now: datetime
    ages: _Ages
    shares: _Shares
    include_data_as_of: bool
    seen: list[_Connection] = field(default_factory=list)

    def make(self, index: int) -> SeededLoan:
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
        return SeededLoan(loan_id, row, iso(completed_at), order, employers)

    def _employer(self) -> EmployerSpec:
        rng = self.rng
        if self.seen and rng.random() < self.shares.shared_token:
            shared = rng.choice(self.seen)
            return EmployerSpec(access_token=shared.access_token, scenario=shared.scenario, company=shared.company)
        scenario = rng.choice(FAILING_SCENARIOS) if rng.random() < self.shares.failing else "ok"
        return EmployerSpec(scenario=scenario, company=rng.choice(_COMPANIES))
