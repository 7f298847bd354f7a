"""`monitor plan`: what a pass of a job would do now, and why. It reads and decides as the pass does,
and sends nothing, records nothing, takes no lease and claims no loan.

Loans whose order was never read are counted (`details_needed`), not read: their data date and
connections are Truv's to tell, and a plan makes no request. Budgets are checked, not reserved, so
loans sharing a token each see the budget the pass would find before its first reservation.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

import structlog

from monitor.config import JobConfig, PolicyConfig
from monitor.core.products import scope_of
from monitor.core.refresh_choice import Fresh, Skip
from monitor.core.states import RunState, SkipReason
from monitor.errors import MonitorError
from monitor.jobs.candidates import LOOKAHEAD, Criteria, choose_for
from monitor.jobs.pass_summary import PassSummary, RefreshBudget, Tally
from monitor.services import Context
from monitor.store import ledger, loan_refresh
from monitor.store.db import read_only, session
from monitor.store.loans import Candidate

log = structlog.get_logger("monitor.pass")


class Plan:
    def __init__(self, ctx: Context, job: JobConfig, *, stop: threading.Event | None = None) -> None:
        self.ctx = ctx
        self.job = job
        self.run_id = uuid.uuid4().hex
        self.summary = PassSummary(self.run_id, job.name, True, ctx.clock.now())
        self.tally = Tally(self.summary)
        self.budget = RefreshBudget(job.max_refreshes)
        self._stop = stop or threading.Event()  # the operator asked (SIGTERM)
        self._engine = read_only(ctx.engine)
        self._seen: set[str] = set()  # loans decided under an earlier policy of the job
        self._passed_on: set[str] = set()
        self.log = log.bind(run_id=self.run_id, job=job.name)

    def run(self) -> PassSummary:
        now = self.ctx.clock.now()
        self.log.info("pass_started", dry_run=True)
        tokens = structlog.contextvars.bind_contextvars(run_id=self.run_id, job=self.job.name)
        try:
            for name in self.job.policies:
                if self._stop.is_set():
                    break
                self._policy(self.ctx.config.policy(name), now)
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

    def _policy(self, policy: PolicyConfig, now: datetime) -> None:
        """One list of candidates, in the order a pass would work them, each decided in turn."""
        criteria = Criteria.of(policy, now)
        self.tally.stale_counts(criteria.count(self.ctx.engine, now=now))
        limit = max(1000, LOOKAHEAD * self.job.max_refreshes)
        fresh = [c for c in criteria.select(self._engine, now=now, limit=limit) if c.loan_id not in self._seen]
        self._seen.update(c.loan_id for c in fresh)
        selected = self.tally.selected(len(fresh))
        for cand in fresh:
            if self._stop.is_set():
                break
            try:
                self._decide(cand, policy)
            except MonitorError as exc:
                self.log.error("loan_failed", error_type=type(exc).__name__)
                self.tally.skip(SkipReason.ERROR)
        self._seen -= self._passed_on  # a later policy of the job may fit their orders
        self._passed_on.clear()
        self.log.info("policy_done", policy=policy.name, selected=selected)

    def _decide(self, cand: Candidate, policy: PolicyConfig) -> None:
        if cand.details_fetched_at is None:
            self.tally.details_needed()  # a plan sends nothing, not even a GET
            return
        now = self.ctx.clock.now()
        with session(self._engine) as s:
            loan = loan_refresh.to_refresh(s, cand.loan_id, scope=scope_of(policy.product))
            if loan is None:
                self.tally.skip(SkipReason.DETAILS_UNKNOWN)
                return
            choice = choose_for(loan, policy, now)
            if isinstance(choice, Fresh):
                self.tally.not_stale()
                return
            if isinstance(choice, Skip):
                self.tally.skip(choice.reason)
                if choice.pass_on:
                    self._passed_on.add(loan.loan_id)
                return
            if not self.budget.take():
                self.tally.skip(SkipReason.MAX_REFRESHES)
                return
            decision = ledger.check(
                s,
                loan_id=loan.loan_id,
                gse=loan.gse,
                tokens=choice.tokens,
                limits=self.ctx.limits,
                now=now,
                gse_window_start=loan.gse_window_start,
            )
        if not decision.go:
            self.budget.give_back()
            self.tally.skip(decision.skip_reason or SkipReason.BUDGET)
            return
        picked = choice.picked(decision.allowed_tokens)
        self.tally.submitted(partial=choice.partial(picked, exhausted=bool(decision.exhausted_tokens)))
