"""Which loans a policy looks at, and the choice for one of them: what the pass and the plan share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.config import PolicyConfig
from monitor.core.products import scope_of
from monitor.core.refresh_choice import Choice, Fresh, LoanToRefresh, Skip, choose
from monitor.store import loans
from monitor.store.db import Engine, read_only, session

LOOKAHEAD = 4  # a plan reads at most this many candidates per refresh it may submit
BATCH = 64  # loans a pass claims at a time: small enough to share, large enough to keep the workers busy


@dataclass(frozen=True, slots=True)
class Criteria:
    """A policy's selection as of the start of a pass (the staleness cutoff does not move during it)."""

    match: dict[str, Any]
    max_age_cutoff: datetime
    pre_closing_days: int | None
    scope: str

    @classmethod
    def of(cls, policy: PolicyConfig, now: datetime) -> Criteria:
        return cls(
            match=policy.match,
            max_age_cutoff=now - policy.max_age,
            pre_closing_days=policy.pre_closing_business_days,
            scope=scope_of(policy.product),
        )

    def count(self, engine: Engine, *, now: datetime) -> loans.StaleCounts:
        """How many loans the policy finds stale, and why some of them will not be selected."""
        with session(read_only(engine)) as s:
            return loans.count_stale(
                s,
                match=self.match,
                max_age_cutoff=self.max_age_cutoff,
                pre_closing_days=self.pre_closing_days,
                now=now,
                scope=self.scope,
            )

    def select(
        self, engine: Engine, *, now: datetime, limit: int, claim: loans.Claim | None = None
    ) -> list[loans.Candidate]:
        """Up to `limit` loans to work, in the order they should be worked; claimed when `claim` is given
        (then `engine` must be able to write)."""
        with session(engine) as s:
            return loans.select_stale(
                s,
                match=self.match,
                max_age_cutoff=self.max_age_cutoff,
                pre_closing_days=self.pre_closing_days,
                now=now,
                limit=limit,
                claim=claim,
                scope=self.scope,
            )


def choose_for(loan: LoanToRefresh, policy: PolicyConfig, now: datetime) -> Choice | Skip | Fresh:
    return choose(
        loan,
        product=policy.product,
        max_age=policy.max_age,
        pre_closing_business_days=policy.pre_closing_business_days,
        now=now,
    )
