"""Which of a loan's connections one refresh spends budget on, or why it spends none (pure).

The pass and the plan both ask this of every candidate whose order has been read; neither reads the
database or Truv here, so each rule can be checked on a table of cases.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypedDict

from monitor.core.products import FILTER_KEYS, refresh_product_allowed
from monitor.core.staleness import assess

# Connection states that keep a connection out of every refresh until someone acts.
HELD_STATES = frozenset({"needs_reauth", "manual_review", "needs_new_order"})


@dataclass(frozen=True, slots=True)
class ScopedConnection:
    """One of the original order's connections in the policy product's scope (rule 10)."""

    suborder_id: str  # the original order's suborder: what a refresh's filter names (rule 6)
    token_hash: str
    kind: str
    data_as_of: datetime | None  # None: the suborder never completed
    state: str | None = None  # None: no connection record yet, which is as good as `ok`
    retry_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class LoanToRefresh:
    """What the choice needs of a loan whose order has been read."""

    loan_id: str
    original_order_id: str
    order_products: tuple[str, ...]
    gse: bool
    gse_window_start: datetime | None
    closing_date: date | None
    hold: str | None
    hold_reason: str | None
    connections: tuple[ScopedConnection, ...]


class ChoiceDetail(TypedDict, total=False):
    """What a skip's audit entry says beyond its reason: the order's products against the policy's."""

    order_products: str
    product: str


@dataclass(frozen=True, slots=True)
class Skip:
    """No refresh for this loan: `reason` is the skip reason, `detail` goes into its audit entry."""

    reason: str
    detail: ChoiceDetail = field(default_factory=ChoiceDetail)
    # A later policy of the same job may fit the loan's order: the pass hands the loan on.
    pass_on: bool = False


@dataclass(frozen=True, slots=True)
class Fresh:
    """Read for its data date, which Truv showed to be fresh: nothing to do, nothing to audit."""


@dataclass(frozen=True, slots=True)
class Choice:
    """The stale connections a refresh would cover, by token, and the ones held back."""

    suborders: dict[str, list[str]]  # token -> the original order's suborder ids
    kinds: dict[str, str]  # suborder id -> connection kind
    held: Counter[str]  # connections left out, by reason
    in_scope: int  # every connection of the product, stale or not

    @property
    def tokens(self) -> list[str]:
        return sorted(self.suborders)

    def picked(self, allowed_tokens: tuple[str, ...] | list[str]) -> list[str]:
        """The suborders of the tokens the budget allowed."""
        return [sid for t in allowed_tokens for sid in self.suborders[t]]

    def partial(self, picked: list[str], *, exhausted: bool) -> bool:
        """Whether the refresh leaves out any of the product's connections."""
        return bool(self.held) or exhausted or len(picked) < self.in_scope

    def filters(self, picked: list[str]) -> dict[str, list[dict[str, str]]]:
        """The request's filters: none when every connection is refreshed, else the picked suborders (rule 6)."""
        out: dict[str, list[dict[str, str]]] = {}
        if len(picked) >= self.in_scope:
            return out
        for sid in picked:
            key = FILTER_KEYS.get(self.kinds[sid])
            if key is not None:
                out.setdefault(key, []).append({"id": sid})
        return out


def choose(
    loan: LoanToRefresh,
    *,
    product: str,
    max_age: timedelta,
    pre_closing_business_days: int | None,
    now: datetime,
) -> Choice | Skip | Fresh:
    """The hold, the product rule (rule 5), then each completed connection's staleness and state.

    A connection with no data date never completed (the order's data date comes from Truv before
    anything is chosen, rule 11): it is left out of every refresh, and a loan with only such
    connections is `never_verified`.
    """
    if loan.hold is not None:
        return Skip(loan.hold_reason or loan.hold)
    if not refresh_product_allowed(loan.order_products, product):
        detail = ChoiceDetail(order_products=",".join(loan.order_products), product=product)
        return Skip("product_not_allowed", detail, pass_on=True)
    if loan.connections and all(conn.data_as_of is None for conn in loan.connections):
        return Skip("never_verified")
    suborders: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    held: Counter[str] = Counter()
    for conn in loan.connections:
        if conn.data_as_of is None:
            continue  # never completed: nothing of it to refresh (truv-api.md section 10)
        verdict = assess(
            data_as_of=conn.data_as_of,
            closing_date=loan.closing_date,
            max_age=max_age,
            pre_closing_business_days=pre_closing_business_days,
            now=now,
        )
        if not verdict.stale:
            continue
        reason = held_back(conn, now)
        if reason is not None:
            held[reason] += 1
        else:
            suborders.setdefault(conn.token_hash, []).append(conn.suborder_id)
            kinds[conn.suborder_id] = conn.kind
    if suborders:
        return Choice(suborders, kinds, held, in_scope=len(loan.connections))
    if held:
        return Skip(held.most_common(1)[0][0])
    return Fresh() if loan.connections else Skip("no_connection")


def held_back(conn: ScopedConnection, now: datetime) -> str | None:
    """Why a stale connection is left out of a refresh, or None when it may be refreshed."""
    state = conn.state or "ok"
    if state in HELD_STATES:
        return state
    if state == "retry_later" and conn.retry_after is not None and conn.retry_after > now:
        return "retry_backoff"
    return None
