"""Scripted changes on a generated portfolio (`generate_portfolio(scripted_changes=)`): how many loans
per kind, and which loans get them, picked with an RNG of their own so the book is the same."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.sandbox.employer_changes import CHANGE_KINDS, INCOME_ONLY_KINDS
from monitor.sandbox.order_shapes import OrderJson
from monitor.sandbox.portfolio_result import Portfolio, SeededLoan
from monitor.sandbox.state import Sandbox


@dataclass(slots=True)
class Scripting:
    """Picks the loans that get a scripted change, with an RNG of its own (so the book is unchanged)."""

    sandbox: Sandbox
    rng: random.Random
    at_choices: list[int]
    pay_cut: str

    def run(self, loans: list[SeededLoan], counts: dict[str, int], portfolio: Portfolio) -> None:
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

    def _script(self, loan: SeededLoan, kind: str, portfolio: Portfolio) -> None:
        employers = loan.order["employers"]
        employer = employers[self.rng.randrange(len(employers))]
        at_refresh = self.rng.choice(self.at_choices)
        change = {"at_refresh": at_refresh, kind: self.pay_cut if kind == "pay_cut" else True}
        entries = self.sandbox.script_changes(employer["link_id"], change, suborder_number=employer["suborder_number"])
        portfolio.scripted.setdefault(loan.loan_id, []).append((kind, at_refresh))
        portfolio.scripted_detail.setdefault(loan.loan_id, []).extend(entries)


def _eligible(loans: list[SeededLoan]) -> list[int]:
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


def change_counts(value: Mapping[str, int | float] | None, n: int) -> dict[str, int]:
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


def at_refresh_choices(value: int | Sequence[int]) -> list[int]:
    choices = [value] if isinstance(value, int) else list(value) if isinstance(value, Sequence) else []
    if not choices or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in choices):
        raise ValueError(f"scripted_at_refresh: expected a whole number >= 1 or a list of them, got {value!r}")
    return choices
