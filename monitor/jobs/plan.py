"""`monitor plan`: what a pass of a job would do now, loan by loan, and why. It reads and decides as
the pass does, and sends nothing, records nothing, takes no lease and claims no loan.

It walks the pass's own batches (`candidates.batch_limit` over the same ordered selection) until the
job's `max_refreshes` runs out, so its totals are the pass's: the loans past that point are listed
as `not_reached`. Budgets are checked, not reserved; each refresh the plan would send is counted
against its tokens and the billable cap in memory, so a loan sharing a token with an earlier one
sees the budget the pass would find after that loan's reservation.

Loans whose order was never read are read first, as the pass reads them (GETs only, paced like every
call; nothing recorded), and decided on what Truv shows, so the plan and the next run agree on the first
night too. Offline (`plan --offline`, or no Truv credentials) they are listed as `read_order`
(`details_needed`) instead, each assumed to take one of `max_refreshes`, so the plan never promises
more than the pass can do.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from itertools import islice
from typing import Any, TypedDict

import structlog

from monitor.config import JobConfig, PolicyConfig
from monitor.core.backlog import LoanDecision
from monitor.core.budget import Decision, counts_from
from monitor.core.products import scope_of
from monitor.core.refresh_choice import Choice, Fresh, LoanToRefresh, Skip
from monitor.core.states import RunState, SkipReason
from monitor.errors import MonitorError, TruvAuthError, TruvError, TruvForbidden, TruvNotFound, TruvUnreachable
from monitor.jobs.candidates import Criteria, batch_limit, capacity, choose_for, starved
from monitor.jobs.order_reads import as_learned
from monitor.jobs.order_sync import SyncSummary
from monitor.jobs.pass_summary import PassSummary, RefreshBudget, Tally
from monitor.services import Context
from monitor.store import ledger, loan_refresh
from monitor.store.backlog import PolicyBacklog
from monitor.store.db import read_only, session
from monitor.store.ledger import Usage
from monitor.store.loan_selection import Candidate
from monitor.truv.wire import OrderInfo

log = structlog.get_logger("monitor.pass")


class PlanExtra(TypedDict, total=False):
    """What a decision says beyond its kind: when a budget frees, or what the refresh would cover."""

    next_free_at: datetime | None
    connections: int
    partial: bool


class PlannedLoan(PlanExtra):
    """One loan's decision, as `plan --json` lists it."""

    loan_id: str
    policy: str
    decision: LoanDecision
    reason: str | None


# Reads a loan's original order and its newest refresh (`jobs.order_reads.read_orders` with a client).
OrderReader = Callable[[str], tuple[OrderInfo, OrderInfo | None]]


class Plan:
    def __init__(
        self,
        ctx: Context,
        job: JobConfig,
        *,
        stop: threading.Event | None = None,
        keep: int | None = None,
        reader: OrderReader | None = None,
        into: Callable[[PlannedLoan], None] | None = None,
        sync: Callable[[], SyncSummary | None] | None = None,
    ) -> None:
        """`keep`: list at most that many loans' decisions (`loans_total` counts them all), so a plan over a
        million loans holds a page of decisions, not one per loan. `reader`: how unread orders are read
        (None: offline, they are listed as `read_order`). `into`: where each listed decision goes, as it
        is made (`plan --json` writes them out); by default `loans` keeps them. `sync`: the run's first step
        on a new book (`order_sync.sync_if_worth`): the plan learns from Truv's order list as the run would,
        and keeps it (GETs only, nothing spent), so that it selects and decides on the dates the run will see."""
        self.ctx = ctx
        self._reader = reader
        self._sync = sync
        self.job = job
        self.run_id = uuid.uuid4().hex
        self.summary = PassSummary(self.run_id, job.name, True, ctx.clock.now())
        self.tally = Tally(self.summary)
        self.budget = RefreshBudget(job.max_refreshes)
        self.loans: list[PlannedLoan] = []  # one decision per loan looked at, in the pass's order
        self._into = into or self.loans.append
        self.loans_listed = 0
        self.loans_total = 0
        self._keep = keep
        self._stop = stop or threading.Event()  # the operator asked (SIGTERM)
        self._engine = read_only(ctx.engine)
        self._seen: set[str] = set()  # loans decided under an earlier policy of the job
        self._passed_on: set[str] = set()
        # What the refreshes this plan would send spend, as the pass's reservations would.
        self._token_uses: Counter[str] = Counter()
        self._sent: set[str] = set()
        self._sent_gse: set[str] = set()
        self._billable = 0
        self.log = log.bind(run_id=self.run_id, job=job.name)

    def run(self) -> PassSummary:
        now = self.ctx.clock.now()
        self.log.info("pass_started", dry_run=True)
        tokens = structlog.contextvars.bind_contextvars(run_id=self.run_id, job=self.job.name)
        try:
            synced = self._sync() if self._sync is not None else None
            if synced is not None and synced.busy_with is None:
                self.summary.loans_synced = synced.loans_learned + synced.loans_read_singly
            backlogs: dict[str, PolicyBacklog] = {}
            names = self.job.policies
            for at, name in enumerate(names):
                if self._stop.is_set():
                    break
                backlogs[name] = self._policy(self.ctx.config.policy(name), now, last=at == len(names) - 1)
            self.tally.backlog_estimate(capacity(self.job, self.ctx.limits, backlogs, now))
            self.summary.status = RunState.STOPPED if self._stop.is_set() else RunState.FINISHED
        except MonitorError as exc:
            self.summary.status, self.summary.error = RunState.FAILED, str(exc)
            raise
        except Exception as exc:
            self.summary.status, self.summary.error = RunState.FAILED, f"internal error: {type(exc).__name__}"
            raise
        finally:
            self.summary.finished_at = self.ctx.clock.now()
            structlog.contextvars.reset_contextvars(**tokens)
        return self.summary

    def _policy(self, policy: PolicyConfig, now: datetime, *, last: bool) -> PolicyBacklog:
        """The policy's candidates, in the order a pass would work them, batch by batch as it claims them.

        They are read as they are decided, never held all at once (issue 26: 500k stale loans of a 5M
        book were 270 MB); only the loans reached are remembered, and only for a later policy."""
        criteria = Criteria.of(policy, now)
        backlog = self._backlog(criteria, now)
        self.tally.policy_started(policy.name, backlog)
        not_reached = self._walk(criteria, policy, now, last=last)
        self._seen -= self._passed_on  # a later policy of the job may fit their orders
        self._passed_on.clear()
        line = self.tally.policy_done(policy.name, not_reached=not_reached)
        if line["selected"] == 0 and not_reached and self.budget.left <= 0:
            earlier = {p: b["submitted"] + b["details_needed"] for p, b in self.summary.backlog.items()}
            earlier.pop(policy.name, None)
            self.tally.warn(starved(policy.name, earlier, self.job.max_refreshes, not_reached))
            self.log.warning("policy_starved", policy=policy.name, waiting=not_reached)
        self.log.info("policy_done", policy=policy.name, selected=self.summary.selected)
        return backlog

    def _backlog(self, criteria: Criteria, now: datetime) -> PolicyBacklog:
        """The policy's backlog as the pass would find it: the refreshes this plan sent under earlier
        policies are in flight, no longer waiting."""
        backlog = criteria.backlog(self.ctx.engine, now=now)
        counts = backlog.counts()
        flying = criteria.among(self.ctx.engine, now=now, loan_ids=self._sent)
        flying_gse = criteria.among(self.ctx.engine, now=now, loan_ids=self._sent_gse)
        self.tally.stale_counts(replace(counts, in_flight=counts.in_flight + flying))
        return replace(
            backlog,
            waiting=backlog.waiting - flying,
            waiting_gse=backlog.waiting_gse - flying_gse,
            in_flight=backlog.in_flight + flying,
        )

    def _walk(self, criteria: Criteria, policy: PolicyConfig, now: datetime, *, last: bool) -> int:
        """Decide the candidates batch by batch until the budget runs out; the rest are `not_reached`
        (returned: how many)."""
        workers = self.ctx.config.truv.concurrency
        not_reached = 0
        with criteria.stream(self._engine, now=now) as found:
            fresh = (c for c in found if c.loan_id not in self._seen)
            while self.budget.left > 0 and not self._stop.is_set():
                batch = list(islice(fresh, batch_limit(self.budget.left, workers)))
                if not batch:
                    break
                if not last:  # only a later policy of the job looks for them
                    self._seen.update(c.loan_id for c in batch)
                self.tally.selected(len(batch))
                for cand in batch:
                    self._one(cand, policy)
            for cand in fresh:
                not_reached += 1
                self._note(cand.loan_id, policy, LoanDecision.NOT_REACHED, SkipReason.MAX_REFRESHES)
        return not_reached

    def _one(self, cand: Candidate, policy: PolicyConfig) -> None:
        if self._stop.is_set():
            return
        try:
            self._decide(cand, policy)
        except MonitorError as exc:
            self.log.error("loan_failed", error_type=type(exc).__name__)
            self.tally.skip(SkipReason.ERROR)
            self._note(cand.loan_id, policy, LoanDecision.SKIP, SkipReason.ERROR)

    def _note(
        self,
        loan_id: str,
        policy: PolicyConfig,
        decision: LoanDecision,
        reason: str | None,
        extra: PlanExtra | None = None,
    ) -> None:
        self.loans_total += 1
        if self._keep is None or self.loans_listed < self._keep:
            self.loans_listed += 1
            row: PlannedLoan = {"loan_id": loan_id, "policy": policy.name, "decision": decision, "reason": reason}
            self._into({**row, **(extra or {})})

    def _decide(self, cand: Candidate, policy: PolicyConfig) -> None:
        if cand.details_fetched_at is None and self._reader is not None:
            self._decide_unread(cand, policy)
            return
        if cand.details_fetched_at is None:
            # A plan sends nothing, not even a GET; the pass's read would likely end in a refresh,
            # or, with max_refreshes spent, in that skip.
            self.tally.details_needed()
            if not self.budget.take():
                self.tally.skip(SkipReason.MAX_REFRESHES)
                reason = SkipReason.MAX_REFRESHES.value
            else:
                reason = "details_unknown" if cand.data_as_of is None else "stale_order_not_read"
            self._note(cand.loan_id, policy, LoanDecision.READ_ORDER, reason)
            return
        with session(self._engine) as s:
            loan = loan_refresh.to_refresh(s, cand.loan_id, scope=scope_of(policy.product))
        if loan is None:
            self._skip(cand.loan_id, policy, SkipReason.DETAILS_UNKNOWN)
            return
        self._choose(loan, policy)

    def _decide_unread(self, cand: Candidate, policy: PolicyConfig) -> None:
        """Read the loan's orders as the pass would (rules 6, 11), then decide on them in memory."""
        assert self._reader is not None
        try:
            original, newest = self._reader(cand.order_id)
        except (TruvAuthError, TruvUnreachable):
            raise
        except TruvNotFound:
            self._skip(cand.loan_id, policy, SkipReason.ORDER_NOT_FOUND)
            return
        except TruvForbidden:
            self._skip(cand.loan_id, policy, SkipReason.FORBIDDEN)
            return
        except TruvError:
            self._skip(cand.loan_id, policy, SkipReason.TRUV_UNAVAILABLE)
            return
        tokens = {sub.token_hash for sub in original.suborders if sub.token_hash}
        with session(self._engine) as s:
            basics = loan_refresh.basics(s, cand.loan_id, tokens)
        if basics is None:
            self._skip(cand.loan_id, policy, SkipReason.DETAILS_UNKNOWN)
            return
        loan = as_learned(basics, original, newest, scope=scope_of(policy.product))
        self._choose(loan, policy)

    def _choose(self, loan: LoanToRefresh, policy: PolicyConfig) -> None:
        now = self.ctx.clock.now()
        with session(self._engine) as s:
            choice = choose_for(loan, policy, now)
            if isinstance(choice, Fresh):
                self.tally.not_stale()
                self._note(loan.loan_id, policy, LoanDecision.NONE, "not_stale")
                return
            if isinstance(choice, Skip):
                self._skip(loan.loan_id, policy, choice.reason)
                if choice.pass_on:
                    self._passed_on.add(loan.loan_id)
                return
            if not self.budget.take():
                self._skip(loan.loan_id, policy, SkipReason.MAX_REFRESHES)
                return
            decision = self._usage(s, loan, choice, now).decide(
                tokens=choice.tokens,
                gse=loan.gse,
                limits=self.ctx.limits,
                now=now,
                gse_window_start=loan.gse_window_start,
            )
        self._budgeted(loan, policy, choice, decision, now)

    def _skip(self, loan_id: str, policy: PolicyConfig, reason: str, extra: PlanExtra | None = None) -> None:
        self.tally.skip(reason)
        self._note(loan_id, policy, LoanDecision.SKIP, reason, extra)

    def _usage(self, s: Any, loan: LoanToRefresh, choice: Choice, now: datetime) -> Usage:
        """The ledger's usage, plus what this plan's earlier refreshes would have reserved."""
        read = ledger.read_usage(
            s,
            tokens=choice.tokens,
            loan_id=loan.loan_id,
            gse=loan.gse,
            limits=self.ctx.limits,
            now=now,
            gse_window_start=loan.gse_window_start,
        )
        start = counts_from(now, self.ctx.limits)
        return Usage(
            tokens=[replace(u, uses=[*u.uses, *[start] * self._token_uses[u.token_hash]]) for u in read.tokens],
            gse_uses=read.gse_uses,  # a pass refreshes a loan once: its own GSE uses are all on record
            billable_uses=[*read.billable_uses, *[now] * self._billable],
        )

    def _budgeted(
        self, loan: LoanToRefresh, policy: PolicyConfig, choice: Choice, decision: Decision, now: datetime
    ) -> None:
        if not decision.go:
            self.budget.give_back()
            reason = decision.skip_reason or SkipReason.BUDGET
            self._skip(loan.loan_id, policy, reason, {"next_free_at": decision.next_free_at})
            return
        self._token_uses.update(decision.allowed_tokens)
        self._sent.add(loan.loan_id)
        if loan.gse:
            self._sent_gse.add(loan.loan_id)
        self._billable += int(decision.billable)
        picked = choice.picked(decision.allowed_tokens)
        partial = choice.partial(picked, exhausted=bool(decision.exhausted_tokens))
        self.tally.submitted(partial=partial)
        self._note(loan.loan_id, policy, LoanDecision.REFRESH, None, {"connections": len(picked), "partial": partial})
