"""One loan of a pass: its order's details, the choice, the reservation, the POST, and what came back.

What Truv says about this loan (404, 403, a refusal, a timeout) is recorded here and the pass goes on
(DESIGN.md rule 13). `TruvAuthError` and `TruvUnreachable` propagate: they are about the pass.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from monitor.config import JobConfig, PolicyConfig
from monitor.core.budget import counts_from
from monitor.core.products import scope_of
from monitor.core.refresh_choice import Choice, Fresh, LoanToRefresh, Skip
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
from monitor.jobs.pass_summary import RefreshBudget, Tally
from monitor.services import Services
from monitor.store import ledger, loan_refresh
from monitor.store.db import session
from monitor.store.loans import Candidate
from monitor.store.webhook_events import reapply_unmatched
from monitor.truv.wire import OrderInfo

# How long a token stays blocked after Truv's own refusal for its limit: the refreshes that spent it
# were made elsewhere, so we cannot know when they age out; a full window is the safe answer.
_DAY = timedelta(hours=24)
# Refusals that set a loan aside, which counts their skip already.
_SET_ASIDE = frozenset({SkipReason.FORBIDDEN, SkipReason.ORDER_EXPIRED, SkipReason.ORDER_FINALIZED})

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
            self.skip(choice.reason, loan.loan_id, policy, **choice.detail)
            if choice.pass_on:
                with self._lock:
                    self._passed_on.add(loan.loan_id)  # a later policy of the job may fit its order
        elif not self.budget.take():
            self.tally.skip(SkipReason.MAX_REFRESHES)
        else:
            self._reserve_and_send(loan, policy, choice)

    def skip(self, reason: str, loan_id: str, policy: PolicyConfig | None, **detail: Any) -> None:
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
                policy=policy.name if policy else None,
                reason=reason,
                **detail,
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
            original, newest = self._read_orders(cand.order_id)
        except TruvNotFound:
            with session(self.s.engine) as s:
                until = now.replace(microsecond=0) + _DAY
                loan_refresh.put_off(s, cand.loan_id, attention=SkipReason.ORDER_NOT_FOUND, until=until)
            self.skip(SkipReason.ORDER_NOT_FOUND, cand.loan_id, policy, order_id=cand.order_id)
            return False
        except TruvForbidden as exc:
            self._set_aside(cand.loan_id, LoanHold.MANUAL_REVIEW, SkipReason.FORBIDDEN, policy, error=str(exc)[:300])
            return False
        except (TruvAuthError, TruvUnreachable):
            raise
        except TruvError as exc:
            self.skip(SkipReason.TRUV_UNAVAILABLE, cand.loan_id, policy, error=str(exc)[:300])
            return False
        with session(self.s.engine) as s:
            if not loan_refresh.record_details(s, cand.loan_id, original, newest, run_id=self.run_id, now=now):
                return False
        if original.is_expired:  # the order's life is over (truv-api.md section 10)
            self._set_aside(cand.loan_id, LoanHold.NEEDS_NEW_ORDER, SkipReason.ORDER_EXPIRED, policy)
            return False
        return True

    def _read_orders(self, order_id: str) -> tuple[OrderInfo, OrderInfo | None]:
        """The original order (the imported id may be a refresh: its origin is read then) and its newest refresh."""
        client = self.s.client
        original = client.get_order(order_id)
        if original.initial_order and original.initial_order != original.id:
            original = client.get_order(original.initial_order)
        newest = None
        if original.refresh_order and original.refresh_order != original.id:
            newest = client.get_order(original.refresh_order)
        return original, newest

    def _set_aside(self, loan_id: str, hold: LoanHold, reason: SkipReason, policy: PolicyConfig, **detail: Any) -> None:
        """One loan is set aside with its reason; the pass goes on (DESIGN.md rule 13)."""
        with session(self.s.engine) as s:
            loan_refresh.set_aside(s, loan_id, hold=hold, reason=reason, now=self.s.clock.now())
        if reason == SkipReason.FORBIDDEN:
            with self._lock:
                self._forbidden.append(loan_id)
        self.skip(reason, loan_id, policy, **detail)

    # -- reserve, send, record -------------------------------------------------------------------

    def _reserve_and_send(self, loan: LoanToRefresh, policy: PolicyConfig, choice: Choice) -> None:
        now = self.s.clock.now()  # the reservation's own time: windows run from when it was made
        with session(self.s.engine) as s:
            reserved = ledger.reserve(
                s,
                run_id=self.run_id,
                job=self.job.name,
                policy=policy.name,
                loan_id=loan.loan_id,
                product=policy.product,
                parent_order_id=loan.original_order_id,
                gse=loan.gse,
                tokens=choice.tokens,
                suborders=choice.suborders,
                limits=self.s.limits,
                now=now,
                purpose=policy.permissible_purpose,
                gse_window_start=loan.gse_window_start,
            )
        decision = reserved.decision
        if not decision.go or reserved.reservation_id is None:
            self.budget.give_back()
            reason = decision.skip_reason or SkipReason.BUDGET
            self.skip(reason, loan.loan_id, policy, next_free_at=decision.next_free_at)
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
            self._record(reservation_id, loan.loan_id, ReservationState.REFUSED, "auth_failed", str(exc))
            raise
        except TruvUnreachable as exc:
            # Never sent: the reservation is released, as for any POST that provably never left.
            self._record(reservation_id, loan.loan_id, ReservationState.RELEASED, SkipReason.NOT_SENT, str(exc))
            self.tally.not_submitted()
            self.budget.give_back()
            raise
        except TruvError as exc:
            state, reason = self._refusal(exc, loan, tokens, policy)
            self._record(reservation_id, loan.loan_id, state, reason, str(exc))
            self.tally.not_submitted(None if reason in _SET_ASIDE else reason)
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
                refresh_order_id=info.id,
                original_order_id=loan.original_order_id,
                product=policy.product,
                purpose=policy.permissible_purpose,
                filters={k: len(v) for k, v in filters.items()},
            )
        reapply_unmatched(self.s, info.id)  # webhooks about it that arrived before its answer was written

    def _refusal(
        self, exc: TruvError, loan: LoanToRefresh, tokens: list[str], policy: PolicyConfig
    ) -> tuple[ReservationState, SkipReason]:
        """The ledger state and skip reason for a refresh POST that Truv did not accept."""
        if isinstance(exc, TruvNotSent):
            return ReservationState.RELEASED, SkipReason.NOT_SENT  # provably never left: it stops counting
        if isinstance(exc, TruvNotFound):
            return ReservationState.REFUSED, SkipReason.ORDER_NOT_FOUND
        if isinstance(exc, TruvForbidden):
            self._set_aside(loan.loan_id, LoanHold.MANUAL_REVIEW, SkipReason.FORBIDDEN, policy)
            return ReservationState.REFUSED, SkipReason.FORBIDDEN
        if not isinstance(exc, TruvRefused):
            return ReservationState.REFUSED, SkipReason.THROTTLED  # 429 past every retry: it reached Truv
        if not exc.is_refresh_limit:
            ended = self._order_ended(loan, exc)
            if ended is not None:
                self._set_aside(loan.loan_id, LoanHold.NEEDS_NEW_ORDER, ended, policy)
                return ReservationState.REFUSED, ended
        now = self.s.clock.now()
        with session(self.s.engine) as s:
            if exc.is_refresh_limit:
                ledger.block_tokens(s, tokens, until=now + _DAY, now=now)
                return ReservationState.REFUSED, SkipReason.TRUV_REFRESH_LIMIT
            loan_refresh.put_off(s, loan.loan_id, attention=f"refused:{exc.code or exc.status}", until=now + _DAY)
        return ReservationState.REFUSED, SkipReason.TRUV_REFUSED

    def _order_ended(self, loan: LoanToRefresh, exc: TruvRefused) -> SkipReason | None:
        """Whether a refused refresh means the order's life is over (truv-api.md section 10).

        Truv's wording for refusing a finalized order is not documented, so the message is only a
        hint; an expired order is read back to be sure (one GET, only after a refusal).
        """
        if "finaliz" in str(exc).lower():
            return SkipReason.ORDER_FINALIZED
        try:
            info = self.s.client.get_order(loan.original_order_id, purpose="details")
        except TruvAuthError:
            raise
        except TruvError:
            return None
        return SkipReason.ORDER_EXPIRED if info.is_expired else None

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
                outcome=outcome,
                detail=detail[:300],
            )
