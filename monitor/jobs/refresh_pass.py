"""One refresh pass of a job: settle what is pending, select stale loans, spend budget, submit."""

from __future__ import annotations

import contextvars
import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from monitor.app import Services
from monitor.config import JobConfig, PolicyConfig
from monitor.core.budget import counts_from
from monitor.core.products import FILTER_KEYS, refresh_product_allowed, scope_of
from monitor.core.staleness import assess
from monitor.errors import (
    MonitorError,
    TruvAuthError,
    TruvError,
    TruvForbidden,
    TruvNotFound,
    TruvNotSent,
    TruvOutcomeUnknown,
    TruvRefused,
    TruvUnreachable,
)
from monitor.jobs import outcomes
from monitor.jobs.monitoring import read_reports
from monitor.store import ledger, loans, orders, runs
from monitor.store.db import read_only, session
from monitor.store.outbox import enqueue_needs_new_order
from monitor.store.tables import Loan, Reservation, TruvOrder
from monitor.truv.wire import OrderInfo

log = structlog.get_logger("monitor.pass")

LOOKAHEAD = 4  # a plan reads at most this many candidates per refresh it may submit
BATCH = 64  # loans claimed at a time: small enough to share, large enough to keep the workers busy
# How long a token stays blocked after Truv's own refusal for its limit: the refreshes that spent it
# were made elsewhere, so we cannot know when they age out; a full window is the safe answer.
_DAY = timedelta(hours=24)
# Refusals that set a loan aside (and count their own skip) rather than wait a day (rule 13).
_SET_ASIDE = frozenset({"forbidden", "order_expired", "order_finalized"})


@dataclass
class PassSummary:
    run_id: str
    job: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"  # finished | lease_held | failed
    selected: int = 0
    submitted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    completed: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    needs_reauth: int = 0
    unknown: int = 0
    reconciled: int = 0
    partial: int = 0
    details_needed: int = 0  # plan only: loans whose order details must be fetched before budgets decide
    data_date_unknown: int = 0  # loans whose order has not been read yet: their data date is Truv's to tell
    reports_read: int = 0  # link reports read after completed refreshes (income monitoring)
    findings: int = 0  # changes found in them (see `monitor changes`)
    not_stale: int = 0  # read for their data date, which Truv showed to be fresh: nothing spent
    stale_total: int = 0
    requests: int = 0
    requests_by_endpoint: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    handoffs_delivered: int = 0
    handoffs_failed: int = 0
    error: str | None = None
    lease_holder: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["skipped"] = dict(sorted(self.skipped.items()))
        out["failed"] = dict(sorted(self.failed.items()))
        out["started_at"] = self.started_at.isoformat()
        out["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return out


def holder_is_dead(holder: str) -> bool:
    """A lease held by a process of this host that no longer exists (killed) is free at once.

    Holders on other hosts cannot be checked from here; their leases free when they expire.
    """
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class RefreshPass:
    def __init__(
        self,
        services: Services,
        job: JobConfig,
        *,
        dry_run: bool = False,
        wait_seconds: float = 0.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.s = services
        self.job = job
        self.dry_run = dry_run
        self.wait_seconds = wait_seconds
        self.run_id = uuid.uuid4().hex
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.summary = PassSummary(self.run_id, job.name, dry_run, services.clock.now())
        self._lock = threading.Lock()
        self._stop = threading.Event()  # this pass must end (Truv refused the credentials, or is unreachable)
        self._stop_error: TruvError | None = None  # what stopped it, raised again once the workers are done
        self._requested = stop or threading.Event()  # the operator asked (SIGTERM, daemon shutdown)
        self._heartbeat_done = threading.Event()
        self._budget_left = job.max_refreshes
        self._forbidden: list[str] = []  # loans set aside for a 403 by this pass
        self._not_for_policy: set[str] = set()  # loans whose order the current policy's product cannot refresh
        self.log = log.bind(run_id=self.run_id, job=job.name)
        stats = services.client.stats if services.client is not None else None
        # One client may serve several passes (daemon, demo): report this pass's own calls.
        self._base_requests = stats.requests if stats else 0
        self._base_throttled = stats.throttled if stats else 0
        self._base_endpoints = dict(stats.by_endpoint) if stats else {}

    # -- the pass -------------------------------------------------------------------------------

    def _halted(self) -> bool:
        return self._stop.is_set() or self._requested.is_set()

    def _heartbeat(self) -> None:
        """Keep the lease and this pass's claims alive while it works (real time, not the clock's)."""
        interval = max(1.0, min(60.0, runs.LEASE_TTL.total_seconds() / 3, self.job.claim_ttl.total_seconds() / 3))
        while not self._heartbeat_done.wait(interval):
            try:
                with session(self.s.engine) as s:
                    now = self.s.clock.now()
                    if not self.job.parallel:
                        runs.renew_lease(s, job=self.job.name, run_id=self.run_id, now=now)
                    loans.renew_claims(s, self.run_id, now + self.job.claim_ttl)
            except MonitorError as exc:
                self.log.warning("heartbeat_failed", error=str(exc))

    def run(self) -> PassSummary:
        now = self.s.clock.now()
        if not self.dry_run and not self.job.parallel:
            with session(self.s.engine) as s:
                held = runs.acquire_lease(
                    s, job=self.job.name, holder=self.holder, run_id=self.run_id, now=now, holder_is_dead=holder_is_dead
                )
                if held is not None:
                    self.summary.status = "lease_held"
                    self.summary.lease_holder = held.holder
                    self.summary.finished_at = now
                    self.log.info("lease_held", holder=held.holder, until=held.expires_at)
                    return self.summary
                runs.start_run(s, run_id=self.run_id, job=self.job.name, holder=self.holder, now=now)
                # Holding the lease, no other pass of this job is alive: claims left by a killed one
                # would otherwise hide its loans from this pass until they lapse.
                loans.release_job_claims(s, job=self.job.name, keep_run_id=self.run_id)
        elif not self.dry_run:
            with session(self.s.engine) as s:
                runs.start_run(s, run_id=self.run_id, job=self.job.name, holder=self.holder, now=now)
        self.log.info("pass_started", dry_run=self.dry_run)
        tokens = structlog.contextvars.bind_contextvars(run_id=self.run_id, job=self.job.name)
        if not self.dry_run:
            threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True).start()
        if self.s.client is not None:
            self.s.client.reset_reachability(self.s.config.truv.max_consecutive_failures)
        try:
            if not self.dry_run:
                self._settle(now)
            self._work(now)
            self._raise_if_unreachable()
            if self.s.client is not None and self.s.client.only_forbidden:
                # Fewer calls than the probe needs, all 403: the key, not the orders (rule 13).
                raise TruvAuthError(
                    f"Truv refused the credentials (403): all {self.s.client.only_forbidden} calls of this pass got 403. "
                    "Check TRUV_CLIENT_ID and TRUV_SECRET (the secret picks the environment).",
                    status=403,
                )
            if not self.dry_run and self.wait_seconds > 0:
                self._wait_for_outcomes()
                self._read_reports()
                self._raise_if_unreachable()
            if not self.dry_run and self.s.config.notify is not None:
                from monitor.jobs.notify import deliver

                sent = deliver(self.s)
                self.summary.handoffs_delivered, self.summary.handoffs_failed = sent.delivered, sent.failed
            self.summary.status = "stopped" if self._requested.is_set() else "finished"
        except TruvAuthError as exc:
            self.summary.status = "failed"
            self.summary.error = str(exc)
            self._undo_forbidden()
            raise
        except TruvUnreachable as exc:
            self.summary.status = "truv_unreachable"
            self.summary.error = str(exc)
            raise
        except MonitorError as exc:
            self.summary.status = "failed"
            self.summary.error = str(exc)
            raise
        except Exception as exc:
            # A bug must not leave the run row `running` for ever: record the failure, keep the traceback.
            self.summary.status = "failed"
            self.summary.error = f"internal error: {type(exc).__name__}"
            raise
        finally:
            self._finish()
            structlog.contextvars.reset_contextvars(**tokens)
        return self.summary

    def _raise_if_unreachable(self) -> None:
        """Calls that swallow a TruvError (settling, reports) still end the pass once Truv is unreachable."""
        why = self.s.client.unreachable if self.s.client is not None else None
        if why is not None:
            raise TruvUnreachable(why)

    def _undo_forbidden(self) -> None:
        """403s that turned out to be the key's, not the orders': those loans are not set aside."""
        with self._lock:
            loan_ids, self._forbidden = self._forbidden, []
        if not loan_ids or self.dry_run:
            return
        with session(self.s.engine) as s:
            for loan_id in loan_ids:
                row = s.get(Loan, loan_id)
                if row is not None and row.hold_reason == "forbidden":
                    row.hold = row.hold_reason = row.hold_since = None
                    s.add(row)

    def _finish(self) -> None:
        self._heartbeat_done.set()
        end = self.s.clock.now()
        self.summary.finished_at = end
        if self.s.client is not None:
            self.summary.requests = self.s.client.stats.requests - self._base_requests
            self.summary.throttled = self.s.client.stats.throttled - self._base_throttled
            self.summary.requests_by_endpoint = {
                k: v - self._base_endpoints.get(k, 0)
                for k, v in sorted(self.s.client.stats.by_endpoint.items())
                if v - self._base_endpoints.get(k, 0)
            }
        if self.dry_run:
            return
        with session(self.s.engine) as s:
            runs.finish_run(s, run_id=self.run_id, status=self.summary.status, summary=self.summary.as_dict(), now=end)
            runs.release_lease(s, job=self.job.name, run_id=self.run_id)
            loans.release_claims(s, self.run_id)
        self.log.info(
            "pass_finished",
            **{
                k: v
                for k, v in self.summary.as_dict().items()
                if k
                in (
                    "status",
                    "selected",
                    "submitted",
                    "skipped",
                    "completed",
                    "failed",
                    "needs_reauth",
                    "unknown",
                    "requests",
                )
            },
        )

    def _settle(self, now: datetime) -> None:
        from monitor.webhooks.apply import apply_pending

        apply_pending(self.s)  # webhooks stored but not applied (a receiver stopped in between)
        rec = outcomes.reconcile(self.s, current_run=self.run_id, now=now)
        self.summary.reconciled += rec.reconciled
        self._absorb(outcomes.poll(self.s))
        # Before any new refresh: a report read now shows the data of the refresh that completed.
        self._read_reports()

    def _read_reports(self) -> None:
        """Income monitoring: each completed refresh's report, compared with the last (rule 14)."""
        if self.s.client is None:
            return
        outcomes.fetch_report_ids(self.s)
        stats = read_reports(self.s)
        self.summary.reports_read += stats.read
        self.summary.findings += stats.findings

    def _absorb(self, stats: outcomes.SettleStats) -> None:
        self.summary.completed += stats.completed
        self.summary.failed.update(stats.failed)
        self.summary.needs_reauth += stats.needs_reauth

    def _wait_for_outcomes(self) -> None:
        """Optional: keep polling this run's refreshes until they settle or the wait is over."""
        start = self.s.clock.monotonic()
        while True:
            stats = outcomes.poll(self.s, run_id=self.run_id)
            self._absorb(stats)
            if stats.pending == 0 or self.s.clock.monotonic() - start >= self.wait_seconds:
                return
            self.s.clock.sleep(min(5.0, self.wait_seconds))

    # -- selection and submission ---------------------------------------------------------------

    def _work(self, now: datetime) -> None:
        seen: set[str] = set()
        workers = 1 if self.s.client is None else self.s.config.truv.concurrency
        for name in self.job.policies:
            if self._halted():
                break
            policy = self.s.config.policy(name)
            self._count(policy, now)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresh") as pool:
                # Each task runs in a copy of this context, so every log line carries run_id and job.
                context = contextvars.copy_context()
                for batch in self._batches(policy, now, workers):
                    fresh = [c for c in batch if c.loan_id not in seen]
                    seen.update(c.loan_id for c in fresh)
                    with self._lock:
                        self.summary.selected += len(fresh)
                    for _ in pool.map(lambda c, p=policy, ctx=context: ctx.copy().run(self._one, c, p), fresh):
                        pass
            with self._lock:
                passed_on, self._not_for_policy = self._not_for_policy, set()
            if passed_on:
                seen -= passed_on
                if not self.dry_run:
                    with session(self.s.engine) as s:
                        loans.release_loan_claims(s, self.run_id, passed_on)
            self.log.info("policy_done", policy=policy.name, selected=self.summary.selected)
            if self._halted() and self._stop_error is not None:
                raise self._stop_error

    def _batches(self, policy: PolicyConfig, now: datetime, workers: int) -> Iterator[list[loans.Candidate]]:
        """A plan reads one list; a pass claims a batch at a time, so instances sharing a job
        (`parallel: true`) split the loans and a dead instance's claims lapse to the others."""
        if self.dry_run:
            with session(read_only(self.s.engine)) as s:
                yield loans.select_stale(
                    s,
                    match=policy.match,
                    max_age_cutoff=now - policy.max_age,
                    pre_closing_days=policy.pre_closing_business_days,
                    now=now,
                    limit=max(1000, LOOKAHEAD * self.job.max_refreshes),
                    scope=scope_of(policy.product),
                )
            return
        claim = loans.Claim(run_id=self.run_id, holder=self.holder, ttl=self.job.claim_ttl)
        while not self._halted():
            with self._lock:
                room = self._budget_left
            if room <= 0:
                return
            with session(self.s.engine) as s:
                batch = loans.select_stale(
                    s,
                    match=policy.match,
                    max_age_cutoff=now - policy.max_age,
                    pre_closing_days=policy.pre_closing_business_days,
                    now=self.s.clock.now(),
                    limit=min(BATCH, max(room, workers * 2)),
                    claim=claim,
                    scope=scope_of(policy.product),
                )
            if not batch:
                return
            yield batch

    def _count(self, policy: PolicyConfig, now: datetime) -> None:
        with session(read_only(self.s.engine)) as s:
            counts = loans.count_stale(
                s,
                match=policy.match,
                max_age_cutoff=now - policy.max_age,
                pre_closing_days=policy.pre_closing_business_days,
                now=now,
                scope=scope_of(policy.product),
            )
        self.summary.stale_total += counts["stale"]
        self.summary.data_date_unknown += counts["unknown"]
        if counts["held"]:
            self.summary.skipped["on_hold"] += counts["held"]
        if counts["in_flight"]:
            self.summary.skipped["in_flight"] += counts["in_flight"]
        if counts["backoff"]:
            self.summary.skipped["retry_backoff"] += counts["backoff"]

    def _skip(self, reason: str, loan_id: str, policy: PolicyConfig | None = None, **detail: Any) -> None:
        with self._lock:
            self.summary.skipped[reason] += 1
        if not self.dry_run:
            with session(self.s.engine) as s:
                ledger.add_event(
                    s,
                    at=self.s.clock.now(),
                    kind="skipped",
                    run_id=self.run_id,
                    loan_id=loan_id,
                    purpose=policy.permissible_purpose if policy else None,
                    policy=policy.name if policy else None,
                    reason=reason,
                    **detail,
                )

    def _one(self, cand: loans.Candidate, policy: PolicyConfig) -> None:
        if self._halted():
            return
        try:
            self._refresh_loan(cand, policy)
            if self.s.client is not None and self.s.client.unreachable is not None:
                raise TruvUnreachable(self.s.client.unreachable)  # e.g. a refresh POST timed out as the last straw
        except (TruvAuthError, TruvUnreachable) as exc:
            with self._lock:
                if self._stop_error is None:
                    self._stop_error = exc
                    self.summary.error = str(exc)
            self._stop.set()
        except MonitorError as exc:
            # Loan ids are PII: the log names the failure, the audit entry (via _skip) names the loan.
            self.log.error("loan_failed", error_type=type(exc).__name__)
            self._skip("error", cand.loan_id, error=str(exc)[:300])

    def _refresh_loan(self, cand: loans.Candidate, policy: PolicyConfig) -> None:
        if cand.details_fetched_at is None:
            if self.s.client is None or self.dry_run:  # a plan sends nothing, not even a GET
                with self._lock:
                    self.summary.details_needed += 1
                return
            if not self._fetch_details(cand, policy):
                return
        now = self.s.clock.now()
        scope = scope_of(policy.product)
        with session(self.s.engine) as s:
            loan = s.get(Loan, cand.loan_id)
            original = s.get(TruvOrder, loan.original_order_id or loan.order_id) if loan else None
            conns = [(lc, c) for lc, c in loans.loan_connections(s, cand.loan_id) if lc.kind == scope]
        if loan is None or original is None:
            self._skip("details_unknown", cand.loan_id, policy)
            return
        if loan.hold is not None:
            self._skip(loan.hold_reason or loan.hold, loan.loan_id, policy)
            return
        if not refresh_product_allowed(original.products.split(","), policy.product):
            self._skip(
                "product_not_allowed", cand.loan_id, policy, order_products=original.products, product=policy.product
            )
            with self._lock:
                self._not_for_policy.add(cand.loan_id)  # a later policy of the job may fit its order
            return
        stale_subs, kinds, held = self._stale_connections(loan, policy, conns, now)
        if not stale_subs:
            reason = held.most_common(1)[0][0] if held else ("no_connection" if not conns else "not_stale")
            if reason == "not_stale":
                with self._lock:
                    self.summary.not_stale += 1
                return
            self._skip(reason, cand.loan_id, policy)
            return
        with self._lock:
            if self._budget_left <= 0:
                self.summary.skipped["max_refreshes"] += 1
                return
            self._budget_left -= 1
        in_scope = sum(1 for lc, _ in conns)
        self._reserve_and_send(loan, original, policy, stale_subs, kinds, partial_held=bool(held), in_scope=in_scope)

    @staticmethod
    def _stale_connections(
        loan: Loan, policy: PolicyConfig, conns: list[tuple[Any, Any]], now: datetime
    ) -> tuple[dict[str, list[str]], dict[str, str], Counter[str]]:
        """The product's stale connections by token (original suborder ids), and those held back and why."""
        stale_subs: dict[str, list[str]] = {}
        kinds: dict[str, str] = {}
        held: Counter[str] = Counter()
        for lc, conn in conns:
            verdict = assess(
                data_as_of=lc.data_as_of,
                closing_date=loan.closing_date,
                max_age=policy.max_age,
                pre_closing_business_days=policy.pre_closing_business_days,
                now=now,
            )
            if not verdict.stale:
                continue
            state = conn.state if conn else "ok"
            if state in ("needs_reauth", "manual_review", "needs_new_order"):
                held[state] += 1
            elif state == "retry_later" and conn and conn.retry_after and conn.retry_after > now:
                held["retry_backoff"] += 1
            else:
                stale_subs.setdefault(lc.token_hash, []).append(lc.suborder_id)
                kinds[lc.suborder_id] = lc.kind
        return stale_subs, kinds, held

    def _set_aside(self, loan_id: str, *, hold: str, reason: str, policy: PolicyConfig, **detail: Any) -> None:
        """One loan is set aside with its reason; the pass goes on (DESIGN.md rule 13)."""
        now = self.s.clock.now()
        with session(self.s.engine) as s:
            row = s.get(Loan, loan_id)
            if row is not None and orders.set_hold(row, hold=hold, reason=reason, now=now):
                s.add(row)
                if hold == "needs_new_order":
                    enqueue_needs_new_order(s, loan_ids=[loan_id], reason=reason, since=now, now=now)
        if reason == "forbidden":
            with self._lock:
                self._forbidden.append(loan_id)
        self._skip(reason, loan_id, policy, **detail)

    def _fetch_details(self, cand: loans.Candidate, policy: PolicyConfig) -> bool:
        """GET the original order, and the newest refresh it names, to learn the connections and
        their data dates from Truv before any budget is spent (rules 6 and 11)."""
        assert self.s.client is not None
        now = self.s.clock.now()
        try:
            original = self.s.client.get_order(cand.order_id)
            if original.initial_order and original.initial_order != original.id:
                # The imported id is a refresh order: refreshes go to the origin it names.
                original = self.s.client.get_order(original.initial_order)
            newest = None
            if original.refresh_order and original.refresh_order != original.id:
                newest = self.s.client.get_order(original.refresh_order)
        except TruvNotFound:
            with session(self.s.engine) as s:
                loan = s.get(Loan, cand.loan_id)
                if loan is not None:
                    loan.attention = "order_not_found"
                    loan.next_attempt_at = now.replace(microsecond=0) + _DAY
                    s.add(loan)
            self._skip("order_not_found", cand.loan_id, policy, order_id=cand.order_id)
            return False
        except TruvForbidden as exc:
            self._set_aside(cand.loan_id, hold="manual_review", reason="forbidden", policy=policy, error=str(exc)[:300])
            return False
        except (TruvAuthError, TruvUnreachable):
            raise
        except TruvError as exc:
            self._skip("truv_unavailable", cand.loan_id, policy, error=str(exc)[:300])
            return False
        with session(self.s.engine) as s:
            loan = s.get(Loan, cand.loan_id)
            if loan is None:
                return False
            for order in (original, newest):
                if order is not None:
                    orders.save_order(s, cand.loan_id, order, now=now)
            orders.learn_order(s, loan, original, newest, now=now)
            ledger.add_event(
                s,
                at=now,
                kind="details_fetched",
                run_id=self.run_id,
                loan_id=cand.loan_id,
                original_order_id=original.id,
                newest_order_id=newest.id if newest else None,
                gse_window_start=loan.gse_window_start,
            )
        if original.is_expired:  # the order's life is over (truv-api.md section 10)
            self._set_aside(cand.loan_id, hold="needs_new_order", reason="order_expired", policy=policy)
            return False
        return True

    def _reserve_and_send(
        self,
        loan: Loan,
        original: TruvOrder,
        policy: PolicyConfig,
        stale_subs: dict[str, list[str]],
        kinds: dict[str, str],
        *,
        partial_held: bool,
        in_scope: int,
    ) -> None:
        tokens = sorted(stale_subs)
        now = self.s.clock.now()  # the reservation's own time: windows run from when it was made
        with session(self.s.engine) as s:
            if self.dry_run:
                decision = ledger.check(
                    s,
                    loan_id=loan.loan_id,
                    gse=loan.gse,
                    tokens=tokens,
                    limits=self.s.limits,
                    now=now,
                    gse_window_start=loan.gse_window_start,
                )
                reservation_id = None
            else:
                result = ledger.reserve(
                    s,
                    run_id=self.run_id,
                    job=self.job.name,
                    policy=policy.name,
                    loan_id=loan.loan_id,
                    product=policy.product,
                    parent_order_id=original.id,
                    gse=loan.gse,
                    tokens=tokens,
                    suborders=stale_subs,
                    limits=self.s.limits,
                    now=now,
                    purpose=policy.permissible_purpose,
                    gse_window_start=loan.gse_window_start,
                )
                decision, reservation_id = result.decision, result.reservation_id
        if not decision.go:
            with self._lock:
                self._budget_left += 1
            self._skip(
                decision.skip_reason or "budget", loan.loan_id, next_free_at=decision.next_free_at, policy=policy
            )
            return
        picked = [sid for t in decision.allowed_tokens for sid in stale_subs[t]]
        partial = partial_held or bool(decision.exhausted_tokens) or len(picked) < in_scope
        with self._lock:
            self.summary.submitted += 1
            self.summary.partial += int(partial)
        if self.dry_run or reservation_id is None:
            return
        filters: dict[str, list[dict[str, str]]] = {}
        if len(picked) < in_scope:
            # Name the original order's suborders (rule 6); every other connection is left alone.
            for sid in picked:
                key = FILTER_KEYS.get(kinds[sid])
                if key is not None:
                    filters.setdefault(key, []).append({"id": sid})
        self._send(loan, original.id, policy, reservation_id, list(decision.allowed_tokens), filters)

    def _send(
        self,
        loan: Loan,
        original_id: str,
        policy: PolicyConfig,
        reservation_id: str,
        tokens: list[str],
        filters: dict[str, list[dict[str, str]]],
    ) -> None:
        assert self.s.client is not None

        def before_send() -> None:
            # The use counts from the latest moment the request may reach Truv (rule 12).
            sent = self.s.clock.now()
            with session(self.s.engine) as s:
                ledger.count_from(s, reservation_id, counts_from(sent, self.s.limits), sent=sent)

        try:
            info: OrderInfo = self.s.client.refresh(
                original_id,
                product=policy.product,
                employers=filters.get("employers"),
                financial_accounts=filters.get("financial_accounts"),
                before_send=before_send,
            )
        except TruvOutcomeUnknown as exc:
            self._record(reservation_id, loan.loan_id, state="unknown", outcome="unknown", detail=str(exc))
            with self._lock:
                self.summary.unknown += 1
            return
        except TruvAuthError as exc:
            self._record(reservation_id, loan.loan_id, state="refused", outcome="auth_failed", detail=str(exc))
            raise
        except TruvUnreachable as exc:
            # Never sent: the reservation is released, as for any POST that provably never left.
            self._record(reservation_id, loan.loan_id, state="released", outcome="not_sent", detail=str(exc))
            with self._lock:
                self.summary.submitted -= 1
                self._budget_left += 1
            raise
        except TruvError as exc:
            state, reason = self._refusal(exc, loan, tokens, policy)
            self._record(reservation_id, loan.loan_id, state=state, outcome=reason, detail=str(exc))
            with self._lock:
                self.summary.submitted -= 1
                if reason not in _SET_ASIDE:  # _set_aside counted those already
                    self.summary.skipped[reason] += 1
            return
        now = self.s.clock.now()
        with session(self.s.engine) as s:
            orders.save_order(s, loan.loan_id, info, now=now)
            orders.save_suborders(s, info)
            ledger.set_state(s, reservation_id, state="accepted", now=now, refresh_order_id=info.id)
            if info.created_at is not None:
                res = s.get(Reservation, reservation_id)
                sent = res.sent_at if res is not None and res.sent_at is not None else now
                ledger.count_from(s, reservation_id, counts_from(sent, self.s.limits, info.created_at))
            ledger.add_event(
                s,
                at=now,
                kind="submitted",
                run_id=self.run_id,
                loan_id=loan.loan_id,
                reservation_id=reservation_id,
                refresh_order_id=info.id,
                original_order_id=original_id,
                product=policy.product,
                purpose=policy.permissible_purpose,
                filters={k: len(v) for k, v in filters.items()},
            )
        from monitor.webhooks.apply import reapply_unmatched

        reapply_unmatched(self.s, info.id)

    def _refusal(self, exc: TruvError, loan: Loan, tokens: list[str], policy: PolicyConfig) -> tuple[str, str]:
        """The ledger state and skip reason for a refresh POST that Truv did not accept."""
        if isinstance(exc, TruvNotSent):
            return "released", "not_sent"  # provably never left: the only state that stops counting
        if isinstance(exc, TruvNotFound):
            return "refused", "order_not_found"
        if isinstance(exc, TruvForbidden):
            self._set_aside(loan.loan_id, hold="manual_review", reason="forbidden", policy=policy)
            return "refused", "forbidden"
        if not isinstance(exc, TruvRefused):
            return "refused", "throttled"  # 429 past every retry: not processed, but it reached Truv
        if not exc.is_refresh_limit:
            ended = self._order_ended(loan, exc)
            if ended is not None:
                self._set_aside(loan.loan_id, hold="needs_new_order", reason=ended, policy=policy)
                return "refused", ended
        now = self.s.clock.now()
        with session(self.s.engine) as s:
            if exc.is_refresh_limit:
                ledger.block_tokens(s, tokens, until=now + _DAY, now=now)
            else:
                row = s.get(Loan, loan.loan_id)
                if row is not None:
                    row.attention = f"refused:{exc.code or exc.status}"[:64]
                    row.next_attempt_at = now + _DAY
                    s.add(row)
        return "refused", "truv_refresh_limit" if exc.is_refresh_limit else "truv_refused"

    def _order_ended(self, loan: Loan, exc: TruvRefused) -> str | None:
        """Whether a refused refresh means the order's life is over (truv-api.md section 10).

        Truv's wording for refusing a finalized order is not documented, so the message is only a
        hint; an expired order is read back to be sure (one GET, only after a refusal).
        """
        if "finaliz" in str(exc).lower():
            return "order_finalized"
        assert self.s.client is not None
        try:
            info = self.s.client.get_order(loan.original_order_id or loan.order_id, purpose="details")
        except TruvAuthError:
            raise
        except TruvError:
            return None
        return "order_expired" if info.is_expired else None

    def _record(self, reservation_id: str, loan_id: str, *, state: str, outcome: str, detail: str) -> None:
        now = self.s.clock.now()
        with session(self.s.engine) as s:
            ledger.set_state(
                s,
                reservation_id,
                state=state,
                now=now,
                settled_at=now if state != "unknown" else None,
                outcome=outcome,
                detail=detail[:500],
            )
            ledger.add_event(
                s,
                at=now,
                kind=state,
                run_id=self.run_id,
                loan_id=loan_id,
                reservation_id=reservation_id,
                outcome=outcome,
                detail=detail[:300],
            )
