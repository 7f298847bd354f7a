"""One refresh pass of a job: the lease, settling what is pending, the workers over the job's policies,
and the summary. One loan's steps are `refresh_one`; `plan` is the read-only path."""

from __future__ import annotations

import contextvars
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import structlog

from monitor.config import JobConfig, PolicyConfig
from monitor.core.states import RunState, SkipReason
from monitor.errors import MonitorError, TruvAuthError, TruvUnreachable
from monitor.jobs import outcomes
from monitor.jobs.candidates import Criteria, batch_limit, capacity, starved
from monitor.jobs.monitoring import read_reports
from monitor.jobs.pass_lease import Heartbeat, begin, holder_is_dead, this_holder
from monitor.jobs.pass_summary import PassSummary, RefreshBudget, Tally
from monitor.jobs.refresh_one import LoanRefresh
from monitor.progress import LogProgress, Progress
from monitor.services import Services
from monitor.store import loan_claims, runs
from monitor.store.backlog import PolicyBacklog
from monitor.store.db import session
from monitor.store.loan_selection import Candidate
from monitor.truv.call_count import CallCount, counting

__all__ = ["JobPass", "PassSummary", "holder_is_dead"]

log = structlog.get_logger("monitor.pass")


class JobPass:
    """A pass that sends: it holds the job's lease, spends budget and records every outcome."""

    def __init__(
        self,
        services: Services,
        job: JobConfig,
        *,
        wait_seconds: float = 0.0,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.s = services
        self.job = job
        self.wait_seconds = wait_seconds
        self.run_id = uuid.uuid4().hex
        self.holder = this_holder()
        self.summary = PassSummary(self.run_id, job.name, False, services.clock.now())
        self.tally = Tally(self.summary)
        self.budget = RefreshBudget(job.max_refreshes)
        self.calls = CallCount()  # this pass's own Truv calls, however many passes share the client
        self.loan = LoanRefresh(services, job, run_id=self.run_id, tally=self.tally, budget=self.budget)
        self.heartbeat = Heartbeat(services, job, self.run_id)
        self._stop = threading.Event()  # this pass must end (Truv refused the credentials, or is unreachable)
        self._requested = stop or threading.Event()  # the operator asked (SIGTERM, daemon shutdown)
        self.log = log.bind(run_id=self.run_id, job=job.name)
        self.progress = progress if progress is not None else LogProgress(services.clock, "run")

    def run(self) -> PassSummary:
        now = self.s.clock.now()
        held = begin(self.s, self.job, run_id=self.run_id, holder=self.holder, now=now)
        if held is not None:
            self.summary.status, self.summary.lease_holder, self.summary.finished_at = (
                RunState.LEASE_HELD,
                held.holder,
                now,
            )
            self.log.info("lease_held", holder=held.holder, until=held.expires_at)
            return self.summary
        self.log.info("pass_started", dry_run=False)
        tokens = structlog.contextvars.bind_contextvars(run_id=self.run_id, job=self.job.name)
        self.heartbeat.start()
        self.s.client.reset_reachability(self.s.config.truv.max_consecutive_failures)
        try:
            with counting(self.calls):
                self._steps(now)
            self.summary.status = RunState.STOPPED if self._requested.is_set() else RunState.FINISHED
        except Exception as exc:
            self.summary.status, self.summary.error = _failure(exc)
            if isinstance(exc, TruvAuthError):
                self.loan.lift_forbidden()
            raise
        finally:
            self._finish()
            structlog.contextvars.reset_contextvars(**tokens)
        return self.summary

    def _steps(self, now: datetime) -> None:
        self._settle(now)
        self._sync_orders()
        self._work(now)
        self._check_truv()
        if self.wait_seconds > 0:
            self._wait_for_outcomes()
            self._read_reports()
            self._raise_if_unreachable()
        if self.s.config.notify is not None:
            from monitor.jobs.notify import deliver

            sent = deliver(self.s)
            self.summary.handoffs_delivered, self.summary.handoffs_failed = sent.delivered, sent.failed

    def _halted(self) -> bool:
        return self._stop.is_set() or self._requested.is_set()

    def _raise_if_unreachable(self) -> None:
        """Calls that swallow a TruvError (settling, reports, one loan's GET) still end the pass."""
        why = self.s.client.unreachable
        if why is not None:
            raise TruvUnreachable(why)

    def _check_truv(self) -> None:
        self._raise_if_unreachable()
        forbidden = self.s.client.only_forbidden
        if forbidden:
            # Fewer calls than the probe needs, all 403: the key, not the orders (rule 13).
            raise TruvAuthError(
                f"Truv refused the credentials (403): all {forbidden} calls of this pass got 403. "
                "Check TRUV_CLIENT_ID and TRUV_SECRET (the secret picks the environment).",
                status=403,
            )

    def _finish(self) -> None:
        self.progress.close()
        self.heartbeat.stop()
        end = self.s.clock.now()
        self.summary.finished_at = end
        self.summary.requests = self.calls.requests
        self.summary.throttled = self.calls.throttled
        self.summary.requests_by_endpoint = self.calls.by_endpoint
        with session(self.s.engine) as s:
            runs.finish_run(s, run_id=self.run_id, status=self.summary.status, summary=self.summary.as_dict(), now=end)
            runs.release_lease(s, job=self.job.name, run_id=self.run_id)
            loan_claims.release_claims(s, self.run_id)
        self.log.info("pass_finished", **self.summary.logged())

    def _sync_orders(self) -> None:
        """A new book (many loans whose order was never read): learn them a page of orders per call,
        before any loan's single read (issue 26); a few new loans are read one by one, as before."""
        from monitor.jobs.order_sync import sync_if_worth

        if self._halted() or self.job.parallel:
            # Instances sharing a job record only the loans they claimed; a walk records any loan. For a
            # shared job, `monitor loans sync` runs before the instances.
            return
        synced = sync_if_worth(self.s, run_id=self.run_id)
        if synced is None or synced.busy_with is not None:
            return  # few to learn; or another instance of a shared job walks the list, this one reads singly
        self.summary.loans_synced = synced.loans_learned + synced.loans_read_singly
        self.log.info("orders_synced", pages=synced.pages, loans=self.summary.loans_synced)

    # -- settling what earlier passes (and this one) sent ------------------------------------------

    def _settle(self, now: datetime) -> None:
        from monitor.store.webhook_events import apply_pending

        apply_pending(self.s)  # webhooks stored but not applied (a receiver stopped in between)
        rec = outcomes.reconcile(self.s, current_run=self.run_id, now=now)
        self.tally.settled(completed=0, failed={}, needs_reauth=0, reconciled=rec.reconciled)
        self._absorb(outcomes.poll(self.s))
        # Before any new refresh: a report read now shows the data of the refresh that completed.
        self._read_reports()

    def _read_reports(self) -> None:
        """Income monitoring: each completed refresh's report, compared with the last (rule 14)."""
        outcomes.fetch_report_ids(self.s)
        stats = read_reports(self.s)
        self.tally.monitored(reports_read=stats.read, findings=stats.findings)

    def _absorb(self, stats: outcomes.SettleStats) -> None:
        self.tally.settled(completed=stats.completed, failed=stats.failed, needs_reauth=stats.needs_reauth)

    def _wait_for_outcomes(self) -> None:
        """Optional: keep polling this run's refreshes until they settle or the wait is over."""
        start = self.s.clock.monotonic()
        while True:
            stats = outcomes.poll(self.s, run_id=self.run_id)
            self._absorb(stats)
            if stats.pending == 0 or self.s.clock.monotonic() - start >= self.wait_seconds:
                return
            self.s.clock.sleep(min(5.0, self.wait_seconds))

    # -- the workers -----------------------------------------------------------------------------

    def _work(self, now: datetime) -> None:
        seen: set[str] = set()
        backlogs: dict[str, PolicyBacklog] = {}
        # The work is counted before any is done, so progress shows a total from the first loan.
        counted = [
            Criteria.of(self.s.config.policy(name), now).backlog(self.s.engine, now=now) for name in self.job.policies
        ]
        self.progress.expect(sum(b.waiting for b in counted), cap=self.job.max_refreshes)
        for i, name in enumerate(self.job.policies):
            if self._halted():
                break
            # The first policy starts as counted; a later one after its predecessors worked: read again.
            backlogs[name] = self._policy(self.s.config.policy(name), now, seen, counted[0] if i == 0 else None)
        self.tally.backlog_estimate(capacity(self.job, self.s.limits, backlogs, now))

    def _policy(
        self, policy: PolicyConfig, now: datetime, seen: set[str], backlog: PolicyBacklog | None
    ) -> PolicyBacklog:
        """One policy's batches; returns its backlog as it stood at its start (`backlog`, when already read)."""
        criteria = Criteria.of(policy, now)
        if backlog is None:
            backlog = criteria.backlog(self.s.engine, now=now)
        self.tally.stale_counts(backlog.counts())
        self.tally.policy_started(policy.name, backlog)
        self._run_batches(policy, criteria, seen)
        # Counted before the passed-on loans are released: those were worked, not left.
        out_of_budget = self.budget.left <= 0 or self._halted()
        not_reached = criteria.unclaimed(self.s.engine, now=self.s.clock.now()) if out_of_budget else 0
        self._release_passed_on(seen)
        line = self.tally.policy_done(policy.name, not_reached=not_reached)
        if line["selected"] == 0 and not_reached and self.budget.left <= 0:
            self._starved(policy.name, not_reached)
        self.log.info("policy_done", policy=policy.name, selected=self.summary.selected)
        return backlog

    def _run_batches(self, policy: PolicyConfig, criteria: Criteria, seen: set[str]) -> None:
        """The policy's claimed batches, each loan on a worker; a loan already worked this pass is not again."""
        workers = self.s.config.truv.concurrency
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresh") as pool:
            # Each task runs in a copy of this context: every log line carries run_id and job, and
            # every Truv call counts into this pass's CallCount.
            context = contextvars.copy_context()
            for batch in self._batches(criteria, workers):
                fresh = [c for c in batch if c.loan_id not in seen]
                seen.update(c.loan_id for c in fresh)
                self.tally.selected(len(fresh))
                # A worker's TruvAuthError or TruvUnreachable comes out here, once the others stopped.
                for _ in pool.map(lambda c, p=policy, ctx=context: ctx.copy().run(self._one, c, p), fresh):
                    pass

    def _release_passed_on(self, seen: set[str]) -> None:
        """Loans this policy passed on go back to the pool: a later policy may take them."""
        passed_on = self.loan.take_passed_on()
        if passed_on:
            seen -= passed_on
            with session(self.s.engine) as s:
                loan_claims.release_loan_claims(s, self.run_id, passed_on)

    def _starved(self, policy: str, not_reached: int) -> None:
        """The budget ran out before this policy got a loan: said, with what the earlier ones took."""
        earlier = {p: b["submitted"] for p, b in self.summary.backlog.items() if p != policy}
        self.tally.warn(starved(policy, earlier, self.job.max_refreshes, not_reached))
        self.log.warning("policy_starved", policy=policy, waiting=not_reached)

    def _batches(self, criteria: Criteria, workers: int) -> Iterator[list[Candidate]]:
        """A batch at a time, claimed: instances sharing a job (`parallel: true`) split the loans, and
        a dead instance's claims lapse to the others."""
        claim = loan_claims.Claim(run_id=self.run_id, holder=self.holder, ttl=self.job.claim_ttl)
        while not self._halted():
            room = self.budget.left
            if room <= 0:
                return
            limit = batch_limit(room, workers)
            batch = criteria.select(self.s.engine, now=self.s.clock.now(), limit=limit, claim=claim)
            if not batch:
                return
            yield batch

    def _one(self, cand: Candidate, policy: PolicyConfig) -> None:
        if self._halted():
            return
        try:
            self.loan.refresh(cand, policy)
            self._stepped()
            self._raise_if_unreachable()  # e.g. a refresh POST timed out as the last straw
        except (TruvAuthError, TruvUnreachable):
            self._stop.set()  # the other workers take no new loan
            raise
        except MonitorError as exc:
            # Loan ids are PII: the log names the failure, the audit entry names the loan.
            self.log.error("loan_failed", error_type=type(exc).__name__)
            self.loan.skip(SkipReason.ERROR, cand.loan_id, None, {"error": str(exc)[:300]})
            self._stepped()

    def _stepped(self) -> None:
        summary = self.summary  # read without the tally's lock: a progress line may lag by a loan
        self.progress.step(submitted=summary.submitted, skipped=sum(summary.skipped.values()))


def _failure(exc: Exception) -> tuple[RunState, str]:
    """How a pass that raised ends: its run status and the error it reports."""
    if isinstance(exc, TruvUnreachable):
        return RunState.TRUV_UNREACHABLE, str(exc)
    if isinstance(exc, MonitorError):
        return RunState.FAILED, str(exc)
    # A bug must not leave the run row `running` for ever: record the failure, keep the traceback.
    return RunState.FAILED, f"internal error: {type(exc).__name__}"
