"""Which loans a policy looks at, and the choice for one of them: what the pass and the plan share."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from monitor.config import JobConfig, PolicyConfig
from monitor.core.backlog import job_capacity
from monitor.core.budget import Limits
from monitor.core.products import scope_of
from monitor.core.refresh_choice import Choice, Fresh, LoanToRefresh, Skip, choose
from monitor.core.selection import Selection
from monitor.jobs.candidate_spool import CandidateSpool
from monitor.store import loan_selection
from monitor.store.backlog import PolicyBacklog, policy_backlog
from monitor.store.db import Engine, read_only, session
from monitor.store.loan_claims import Claim

BATCH = 64  # loans a pass claims at a time: small enough to share, large enough to keep the workers busy


@dataclass(frozen=True, slots=True)
class Criteria:
    """A policy's selection as of the start of a pass, and the reads a pass makes with it."""

    selection: Selection

    @classmethod
    def of(cls, policy: PolicyConfig, now: datetime) -> Criteria:
        return cls(
            Selection(
                match=policy.match,
                max_age_cutoff=now - policy.max_age,
                pre_closing_days=policy.pre_closing_business_days,
                scope=scope_of(policy.product),
            )
        )

    def backlog(self, engine: Engine, *, now: datetime) -> PolicyBacklog:
        with session(read_only(engine)) as s:
            return policy_backlog(s, self.selection, now=now)

    def among(self, engine: Engine, *, now: datetime, loan_ids: Collection[str]) -> int:
        """How many of `loan_ids` the policy would select now."""
        if not loan_ids:
            return 0
        with session(read_only(engine)) as s:
            return loan_selection.count_selectable(s, self.selection, now=now, among=loan_ids)

    def unclaimed(self, engine: Engine, *, now: datetime) -> int:
        """Loans a pass would still select that no live pass has claimed: what this one did not reach."""
        with session(read_only(engine)) as s:
            return loan_selection.count_selectable(s, self.selection, now=now, unclaimed=True)

    def select(
        self, engine: Engine, *, now: datetime, limit: int | None, claim: Claim | None = None
    ) -> list[loan_selection.Candidate]:
        """Up to `limit` loans to work, in the order they should be worked; claimed when `claim` is given
        (then `engine` must be able to write)."""
        with session(engine) as s:
            return loan_selection.select_stale(s, self.selection, now=now, limit=limit, claim=claim)

    @contextmanager
    def stream(self, engine: Engine, *, now: datetime) -> Iterator[Iterator[loan_selection.Candidate]]:
        """`select`'s loans without a limit or a claim (the plan's), read in one short transaction into
        a file, and from it a page at a time as they are consumed."""
        with CandidateSpool() as spool:
            with session(read_only(engine)) as s:
                spool.extend(loan_selection.stream_stale(s, self.selection, now=now))
            yield iter(spool)


def choose_for(loan: LoanToRefresh, policy: PolicyConfig, now: datetime) -> Choice | Skip | Fresh:
    return choose(
        loan,
        product=policy.product,
        max_age=policy.max_age,
        pre_closing_business_days=policy.pre_closing_business_days,
        now=now,
    )


def batch_limit(room: int, workers: int) -> int:
    """How many loans a pass claims next, with `room` refreshes left of its max_refreshes."""
    return min(BATCH, max(room, workers * 2))


def capacity(job: JobConfig, limits: Limits, backlogs: Mapping[str, PolicyBacklog], now: datetime) -> int:
    """Refreshes a day of the job's schedule can take, at its max_refreshes and the billable cap."""
    return job_capacity(
        max_refreshes=job.max_refreshes,
        schedule=job.schedule,
        timezone=job.timezone,
        billable_per_day=limits.billable_per_day,
        waiting=sum(b.waiting for b in backlogs.values()),
        waiting_gse=sum(b.waiting_gse for b in backlogs.values()),
        now=now,
    )


def starved(policy: str, earlier: Mapping[str, int], max_refreshes: int, waiting: int) -> str:
    """The warning for a policy that got nothing: the earlier policies used the pass's max_refreshes."""
    used = ", ".join(f"{name} {n}" for name, n in earlier.items() if n)
    return (
        f"policy {policy} got no refresh: the job's max_refreshes ({max_refreshes}) was used by earlier policies "
        f"({used or 'none'}); {waiting} of its loans wait"
    )
