"""One loan of a pass: its order's details, the choice, the reservation, the POST, and what came back.

What Truv says about this loan (404, 403, a refusal, a timeout) is recorded here and the pass goes on
(DESIGN.md rule 13). `TruvAuthError` and `TruvUnreachable` propagate: they are about the pass.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from monitor.config import JobConfig, PolicyConfig
from monitor.core.budget import ReservationRequest, counts_from
from monitor.core.products import scope_of
from monitor.core.refresh_choice import Choice, Fresh, LoanToRefresh, Skip, SkipDetail
from monitor.core.states import LoanHold, ReservationState, SkipReason
from monitor.errors import (
    TruvAuthError,
    TruvError,
    TruvForbidden,
    TruvNotFound,
    TruvNotSent,
    TruvOutcomeUnknown,
    TruvRefused,
    TruvUnreachable,
)
from monitor.jobs.candidates import choose_for
from monitor.jobs.monitoring import read_baselines
from monitor.jobs.order_reads import read_orders
from monitor.jobs.pass_summary import RefreshBudget, Tally
from monitor.services import Services
from monitor.store import ledger, loan_refresh
from monitor.store.audit_details import NotSubmitted, Skipped, Submitted
from monitor.store.db import session
from monitor.store.loan_selection import Candidate
from monitor.store.webhook_events import reapply_unmatched
from monitor.truv.wire import OrderInfo

# How long a token stays blocked after Truv's own refusal for its limit: the refreshes that spent it
# were made elsewhere, so we cannot know when they age out; a full window is the safe answer.
_DAY = timedelta(hours=24)
# A loan whose refreshes Truv keeps refusing waits this long after each refusal in a row; past the last,
# a person looks (hold `manual_review`). Refusals spend nothing (rule 15), so the wait is for the lender.
REFUSAL_BACKOFF = (timedelta(days=1), timedelta(days=3))
# A wait of N days ends this much early, so that a nightly pass N days later at the same hour takes the
# loan even when the refusal came some minutes into the pass.
PASS_SLACK = timedelta(hours=1)
# A loan none of whose connections ever completed is looked at again (its order read anew) after this.
NEVER_VERIFIED_RECHECK = timedelta(days=1)

Filters = dict[str, list[dict[str, str]]]


class LoanRefresh:
    """The per-loan steps of one pass; called from the pass's workers, so what it shares is locked."""

    def __init__(self, services: Services, job: JobConfig, *, run_id: str, tally: Tally, budget: RefreshBudget) -> None:
        self.s = services
        self.job = job
        self.run_id = run_id
        self.tally = tally
        self.budget = budget
        self._lock = threading.Lock()
        self._forbidden: list[str] = []  # loans this pass set aside for a 403
        self._passed_on: set[str] = set()  # loans whose order the current policy's product cannot refresh

    # -- what the pass asks of it ----------------------------------------------------------------

    def refresh(self, cand: Candidate, policy: PolicyConfig) -> None:
        if cand.details_fetched_at is None and not self._read_details(cand, policy):
            return
        now = self.s.clock.now()
        with session(self.s.engine) as s:
            loan = loan_refresh.to_refresh(s, cand.loan_id, scope=scope_of(policy.product))
        if loan is None:
            self.skip(SkipReason.DETAILS_UNKNOWN, cand.loan_id, policy)
            return
        choice = choose_for(loan, policy, now)
        if isinstance(choice, Fresh):
            self.tally.not_stale()
        elif isinstance(choice, Skip):
            self.skip(choice.reason, loan.loan_id, policy, choice.detail)
            if choice.reason == SkipReason.NEVER_VERIFIED:
                with session(self.s.engine) as s:
                    loan_refresh.recheck_later(s, loan.loan_id, until=now + NEVER_VERIFIED_RECHECK)
            if choice.pass_on:
                with self._lock:
                    self._passed_on.add(loan.loan_id)  # a later policy of the job may fit its order
        elif not self.budget.take():
            self.tally.skip(SkipReason.MAX_REFRESHES)
        else:
            baselines = read_baselines(
                self.s,
                loan_id=loan.loan_id,
                order_id=loan.original_order_id,
                product=policy.product,
                tokens=choice.tokens,
            )
            self.tally.monitored(reports_read=baselines, findings=0)
            self._reserve_and_send(loan, policy, choice)

    def skip(self, reason: str, loan_id: str, policy: PolicyConfig | None, detail: SkipDetail | None = None) -> None:
        """Counted in the summary and audited with its reason."""
        self.tally.skip(reason)
        with session(self.s.engine) as s:
            ledger.add_event(
                s,
                at=self.s.clock.now(),
                kind="skipped",
                run_id=self.run_id,
                loan_id=loan_id,
                purpose=policy.permissible_purpose if policy else None,
                detail=Skipped(policy=policy.name if policy else None, reason=reason, **(detail or {})),
            )

    def take_passed_on(self) -> set[str]:
        """The loans the last policy handed on, for the job's next policy to select again."""
        with self._lock:
            passed_on, self._passed_on = self._passed_on, set()
        return passed_on

    def lift_forbidden(self) -> None:
        """403s that turned out to be the key's, not the orders': those loans are not set aside."""
        with self._lock:
            loan_ids, self._forbidden = self._forbidden, []
        if loan_ids:
            with session(self.s.engine) as s:
                loan_refresh.lift_holds(s, loan_ids, reason=SkipReason.FORBIDDEN)

    # -- details ---------------------------------------------------------------------------------

    def _read_details(self, cand: Candidate, policy: PolicyConfig) -> bool:
        """GET the original order, and the newest refresh it names, to learn the connections and
        their data dates from Truv before any budget is spent (rules 6 and 11)."""
        now = self.s.clock.now()
        try:
            original, newest = read_orders(self.s.client, cand.order_id)
        except TruvNotFound:
            with session(self.s.engine) as s:
                until = now.replace(microsecond=0) + _DAY
                loan_refresh.put_off(s, cand.loan_id, attention=SkipReason.ORDER_NOT_FOUND, until=until)
            self.skip(SkipReason.ORDER_NOT_FOUND, cand.loan_id, policy, {"order_id": cand.order_id})
            return False
        except TruvForbidden as exc:
            error: SkipDetail = {"error": str(exc)[:300]}
            self._set_aside(cand.loan_id, LoanHold.MANUAL_REVIEW, SkipReason.FORBIDDEN, policy, error)
            return False
        except (TruvAuthError, TruvUnreachable):
            raise
        except TruvError as exc:
            self.skip(SkipReason.TRUV_UNAVAILABLE, cand.loan_id, policy, {"error": str(exc)[:300]})
            return False
        with session(self.s.engine) as s:
            # `is_expired` is the borrower invitation's expiry, not the end of the order (DESIGN.md rule 13).
            return loan_refresh.record_details(s, cand.loan_id, original, newest, run_id=self.run_id, now=now)

    def _set_aside(
        self, loan_id: str, hold: LoanHold, reason: SkipReason, policy: PolicyConfig, detail: SkipDetail | None = None
    ) -> None:
        """One loan is set aside with its reason; the pass goes on (DESIGN.md rule 13)."""
        with session(self.s.engine) as s:
            loan_refresh.set_aside(s, loan_id, hold=hold, reason=reason, now=self.s.clock.now())
        if reason == SkipReason.FORBIDDEN:
            with self._lock:
                self._forbidden.append(loan_id)
        self.skip(reason, loan_id, policy, detail)

    # -- reserve, send, record -------------------------------------------------------------------

    def _reserve_and_send(self, loan: LoanToRefresh, policy: PolicyConfig, choice: Choice) -> None:
        now = self.s.clock.now()  # the reservation's own time: windows run from when it was made
        with session(self.s.engine) as s:
            request = ReservationRequest(
                run_id=self.run_id,
                job=self.job.name,
                policy=policy.name,
                loan_id=loan.loan_id,
                product=policy.product,
                parent_order_id=loan.original_order_id,
                gse=loan.gse,
                suborders=choice.suborders,
                purpose=policy.permissible_purpose,
                gse_window_start=loan.gse_window_start,
            )
            reserved = ledger.reserve(s, request, limits=self.s.limits, now=now)
        decision = reserved.decision
        if not decision.go or reserved.reservation_id is None:
            self.budget.give_back()
            reason = decision.skip_reason or SkipReason.BUDGET
            self.skip(reason, loan.loan_id, policy, {"next_free_at": decision.next_free_at})
            return
        picked = choice.picked(decision.allowed_tokens)
        self.tally.submitted(partial=choice.partial(picked, exhausted=bool(decision.exhausted_tokens)))
        self._send(loan, policy, reserved.reservation_id, list(decision.allowed_tokens), choice.filters(picked))

    def _send(
        self, loan: LoanToRefresh, policy: PolicyConfig, reservation_id: str, tokens: list[str], filters: Filters
    ) -> None:
        def before_send() -> None:
            # The use counts from the latest moment the request may reach Truv (rule 12).
            sent = self.s.clock.now()
            with session(self.s.engine) as s:
                ledger.count_from(s, reservation_id, counts_from(sent, self.s.limits), sent=sent)

        try:
            info = self.s.client.refresh(
                loan.original_order_id,
                product=policy.product,
                employers=filters.get("employers"),
                financial_accounts=filters.get("financial_accounts"),
                before_send=before_send,
            )
        except TruvOutcomeUnknown as exc:
            self._record(reservation_id, loan.loan_id, ReservationState.UNKNOWN, "unknown", str(exc))
            self.tally.unknown()
            return
        except TruvAuthError as exc:
            # Truv did not take the request: no order, nothing spent (rule 15); the pass stops.
            self._record(reservation_id, loan.loan_id, ReservationState.DECLINED, "auth_failed", str(exc))
            raise
        except TruvUnreachable as exc:
            # Never sent: the reservation is released, as for any POST that provably never left.
            self._record(reservation_id, loan.loan_id, ReservationState.RELEASED, SkipReason.NOT_SENT, str(exc))
            self.tally.not_submitted()
            self.budget.give_back()
            raise
        except TruvError as exc:
            state, reason, set_aside = self._refusal(exc, loan, tokens, policy)
            self._record(reservation_id, loan.loan_id, state, reason, str(exc))
            self.tally.not_submitted(None if set_aside else reason)  # setting aside counted its skip
            return
        self._accepted(loan, policy, reservation_id, info, filters)

    def _accepted(
        self, loan: LoanToRefresh, policy: PolicyConfig, reservation_id: str, info: OrderInfo, filters: Filters
    ) -> None:
        now = self.s.clock.now()
        with session(self.s.engine) as s:
            loan_refresh.record_accepted(s, loan.loan_id, reservation_id, info, limits=self.s.limits, now=now)
            ledger.add_event(
                s,
                at=now,
                kind="submitted",
                run_id=self.run_id,
                loan_id=loan.loan_id,
                reservation_id=reservation_id,
                purpose=policy.permissible_purpose,
                detail=Submitted(
                    refresh_order_id=info.id,
                    original_order_id=loan.original_order_id,
                    product=policy.product,
                    filters={k: len(v) for k, v in filters.items()},
                ),
            )
        reapply_unmatched(self.s, info.id)  # webhooks about it that arrived before its answer was written

    def _refusal(
        self, exc: TruvError, loan: LoanToRefresh, tokens: list[str], policy: PolicyConfig
    ) -> tuple[ReservationState, SkipReason, bool]:
        """The ledger state and skip reason for a refresh POST that Truv did not accept, and whether the
        loan was set aside for it.

        Only answers that may have made a refresh keep counting: Truv's own per-token limit answer and a
        429 past every retry (`refused`). An outright refusal (403, 404, any other 4xx) made no order and
        spent nothing (`declined`, DESIGN.md rule 15).
        """
        if isinstance(exc, TruvNotSent):
            return ReservationState.RELEASED, SkipReason.NOT_SENT, False  # provably never left
        if isinstance(exc, TruvForbidden):
            self._set_aside(loan.loan_id, LoanHold.MANUAL_REVIEW, SkipReason.FORBIDDEN, policy)
            return ReservationState.DECLINED, SkipReason.FORBIDDEN, True
        if not isinstance(exc, TruvRefused | TruvNotFound):
            return ReservationState.REFUSED, SkipReason.THROTTLED, False  # 429 past every retry: it reached Truv
        now = self.s.clock.now()
        if isinstance(exc, TruvRefused) and exc.is_refresh_limit:
            # Blocks only the tokens of this request, for a whole day: refreshes made elsewhere spent them.
            with session(self.s.engine) as s:
                ledger.block_tokens(s, tokens, until=now + _DAY, now=now)
            return ReservationState.REFUSED, SkipReason.TRUV_REFRESH_LIMIT, False
        if isinstance(exc, TruvRefused) and self._order_canceled(loan):
            self._set_aside(loan.loan_id, LoanHold.NEEDS_NEW_ORDER, SkipReason.ORDER_CANCELED, policy)
            return ReservationState.DECLINED, SkipReason.ORDER_CANCELED, True
        reason = SkipReason.ORDER_NOT_FOUND if isinstance(exc, TruvNotFound) else SkipReason.TRUV_REFUSED
        set_aside = self._back_off(loan, policy, reason, f"refused:{exc.code or exc.status}: {exc}", now=now)
        return ReservationState.DECLINED, reason, set_aside

    def _back_off(
        self, loan: LoanToRefresh, policy: PolicyConfig, reason: SkipReason, why: str, *, now: datetime
    ) -> bool:
        """A refused loan waits 1 day, then 3; refused once more, a person looks, with Truv's last word.
        True when the loan was set aside."""
        with session(self.s.engine) as s:
            in_a_row = ledger.declines_in_a_row(s, loan.loan_id) + 1  # this one is not recorded yet
            wait = REFUSAL_BACKOFF[in_a_row - 1] - PASS_SLACK if in_a_row <= len(REFUSAL_BACKOFF) else timedelta(0)
            loan_refresh.put_off(s, loan.loan_id, attention=why, until=now + wait)
        if in_a_row <= len(REFUSAL_BACKOFF):
            return False
        detail: SkipDetail = {"refusals": str(in_a_row), "error": why[:300]}
        self._set_aside(loan.loan_id, LoanHold.MANUAL_REVIEW, reason, policy, detail)
        return True

    def _order_canceled(self, loan: LoanToRefresh) -> bool:
        """Whether a refused refresh met an order that was canceled (truv-api.md section 10).

        One GET, only after a refusal. No message text is read: Truv documents none for these refusals.
        `is_expired` is not an end: it is the borrower invitation's expiry.
        """
        try:
            info = self.s.client.get_order(loan.original_order_id, purpose="details")
        except TruvAuthError:
            raise
        except TruvError:
            return False
        return info.canceled_at is not None

    def _record(self, reservation_id: str, loan_id: str, state: ReservationState, outcome: str, detail: str) -> None:
        now = self.s.clock.now()
        with session(self.s.engine) as s:
            ledger.set_state(
                s,
                reservation_id,
                state=state,
                now=now,
                settled_at=now if state != ReservationState.UNKNOWN else None,
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
                detail=NotSubmitted(outcome=outcome, detail=detail[:300]),
            )
