"""What the next pass would do for a loan under one policy, and why (`loans show`'s decisions).

It mirrors the pass (monitor.jobs): selection (active, no hold, nothing in flight, no backoff, stale or
order not yet read), then the same choice of connections (`core.refresh_choice`) on the same reading of
the loan (`store.loan_refresh`), and the same budget decision on the same usage (`store.ledger`), which
reserves nothing. The job's `max_refreshes` is not applied: it depends on the other loans of the pass.
"""

from __future__ import annotations

from datetime import datetime

from monitor.config import PolicyConfig
from monitor.core.budget import Decision as BudgetDecision
from monitor.core.budget import Limits
from monitor.core.products import scope_of
from monitor.core.refresh_choice import Choice, Fresh, LoanToRefresh, Skip, choose
from monitor.core.states import SkipReason
from monitor.reports.loan_shapes import Decision
from monitor.reports.loan_staleness import is_stale, next_eligible, stale_at
from monitor.store.loan_rows import LoanRow, PassReading
from monitor.truv.secrets import short


def _said(
    policy: PolicyConfig, data_as_of: datetime | None, decision: str, reason: str, when: datetime | None
) -> Decision:
    return {
        "policy": policy.name,
        "product": policy.product,
        "data_as_of": data_as_of,
        "decision": decision,
        "reason": reason,
        "next_eligible": when,
    }


def _selection(
    loan: LoanRow, policy: PolicyConfig, when: datetime | None, now: datetime, *, in_flight: bool
) -> Decision | None:
    """The pass's selection, in the order it counts (monitor.store.backlog); None: selected."""
    if loan.status != "active":
        return _said(policy, when, "none", "not_active", None)
    read = loan.details_fetched_at is not None
    unknown = not read and loan.data_as_of is None
    if not is_stale(when, loan, policy, now, read=read) and not unknown:
        return _said(policy, when, "none", "not_stale", stale_at(when, loan, policy))
    waiting = _in_the_way(loan, policy, when, now, in_flight=in_flight)
    if waiting is not None:
        return waiting
    if not read:
        return _said(policy, when, "read_order", "details_unknown" if unknown else "stale_order_not_read", now)
    return None


def _in_the_way(
    loan: LoanRow, policy: PolicyConfig, when: datetime | None, now: datetime, *, in_flight: bool
) -> Decision | None:
    """What keeps a stale loan out of the pass: a refresh under way, a hold, a backoff (None: nothing)."""
    if in_flight:
        return _said(policy, when, "skip", SkipReason.IN_FLIGHT, None)
    if loan.hold is not None:
        on_hold = _said(policy, when, "skip", SkipReason.ON_HOLD, None)
        on_hold["hold"], on_hold["hold_reason"] = loan.hold, loan.hold_reason
        return on_hold
    if loan.next_attempt_at is not None and loan.next_attempt_at > now:
        return _said(policy, when, "skip", SkipReason.RETRY_BACKOFF, loan.next_attempt_at)
    return None


def decide(loan: LoanRow, reading: PassReading, policy: PolicyConfig, limits: Limits, now: datetime) -> Decision:
    """What the next pass would do for this loan under this policy, and why."""
    scope = scope_of(policy.product)
    when = loan.data_date(scope)
    selected = _selection(loan, policy, when, now, in_flight=reading.in_flight)
    if selected is not None:
        return selected
    refresh = reading.to_refresh.get(scope)
    if refresh is None:
        return _said(policy, when, "skip", SkipReason.DETAILS_UNKNOWN, None)
    choice = choose(
        refresh,
        product=policy.product,
        max_age=policy.max_age,
        pre_closing_business_days=policy.pre_closing_business_days,
        now=now,
    )
    if isinstance(choice, Skip):
        return _skipped(choice, refresh, loan, policy, when, now)
    if isinstance(choice, Fresh):
        return _said(policy, when, "none", "not_stale", next_eligible(refresh.connections, loan, policy, now))
    check = reading.usage.decide(
        tokens=choice.tokens, gse=loan.gse, limits=limits, now=now, gse_window_start=loan.gse_window_start
    )
    return _budget(policy, when, choice, check, now)


def _skipped(
    choice: Skip, refresh: LoanToRefresh, loan: LoanRow, policy: PolicyConfig, when: datetime | None, now: datetime
) -> Decision:
    if choice.reason == SkipReason.PRODUCT_NOT_ALLOWED:
        out = _said(policy, when, "skip", choice.reason, None)
        out["order_products"] = choice.detail.get("order_products")
        return out
    if choice.reason == SkipReason.NO_CONNECTION:
        return _said(policy, when, "skip", choice.reason, None)
    return _said(policy, when, "skip", choice.reason, next_eligible(refresh.connections, loan, policy, now))


def _budget(
    policy: PolicyConfig, when: datetime | None, choice: Choice, check: BudgetDecision, now: datetime
) -> Decision:
    """A refresh as the budgets allow it: the tokens it spends on, or the budget's no."""
    if not check.go:
        return _said(policy, when, "skip", check.skip_reason or SkipReason.BUDGET, check.next_free_at)
    go = _said(policy, when, "refresh", "stale", now)
    go["tokens"] = sorted(short(t) for t in check.allowed_tokens)
    go["billable"] = check.billable
    go["held"] = dict(choice.held)
    return go
