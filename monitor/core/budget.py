"""Refresh budgets over rolling windows (DESIGN.md rules 1 and 2). Pure: usage in, decision out.

Windows are half-open: a use at time t counts while `now - window < t`, i.e. it frees exactly
`window` after it was reserved. Every reservation that may have reached Truv is a use, whatever
its outcome (rule 3); only the store decides what counts as a use, this module only counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

TOKEN_WINDOW = timedelta(hours=24)
GSE_WINDOW = timedelta(days=90)
BILLABLE_WINDOW = timedelta(hours=24)


DEFAULT_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Limits:
    per_token: int = 3
    gse: int = 5
    gse_overage: str = "block"  # "block" | "paid"
    billable_per_day: int | None = None
    # Our clock and Truv's may differ: a use counts this much past the latest moment it may have reached Truv.
    clock_skew_margin: timedelta = DEFAULT_SKEW


@dataclass(frozen=True, slots=True)
class GseTerms:
    """Where a GSE loan stands in Truv's free re-verification window (rule 2)."""

    window_start: datetime | None
    window_end: datetime | None
    used: int
    free_left: int
    in_window: bool


def gse_terms(*, window_start: datetime | None, uses: Sequence[datetime], limits: Limits, now: datetime) -> GseTerms:
    """The free window runs [start, start + 90 days) from the original order; at most `limits.gse` in it.

    `uses` are the loan's counting GSE reservations. Without a known start (order not yet read) the
    window is taken as rolling: the 90 days before `now`, the stricter reading.
    """
    if window_start is None:
        live = [u for u in uses if u > now - GSE_WINDOW]
        return GseTerms(None, None, len(live), max(0, limits.gse - len(live)), True)
    end = window_start + GSE_WINDOW
    used = sum(1 for u in uses if window_start <= u < end)
    return GseTerms(window_start, end, used, max(0, limits.gse - used), now < end)


def counts_from(sent_at: datetime, limits: Limits, truv_created_at: datetime | None = None) -> datetime:
    """When a refresh use starts counting in its token's window (rule 12): the latest moment it may
    have reached Truv, by our clock or by Truv's `created_at`, plus the clock-skew margin."""
    latest = max(sent_at, truv_created_at) if truv_created_at is not None else sent_at
    return latest + limits.clock_skew_margin


@dataclass(frozen=True, slots=True)
class ReservationRequest:
    """What one refresh asks the ledger for (DESIGN.md rule 3): who asks, which loan and order, and the
    connections by token. Passed whole from the pass (or a test) to `store.ledger.reserve`."""

    run_id: str
    job: str
    policy: str
    loan_id: str
    product: str
    parent_order_id: str  # the loan's original order: the POST's target (rule 6)
    gse: bool
    suborders: Mapping[str, Sequence[str]]  # token -> the original order's suborder ids it refreshes
    purpose: str | None = None
    gse_window_start: datetime | None = None

    @property
    def tokens(self) -> list[str]:
        return sorted(self.suborders)


@dataclass(frozen=True, slots=True)
class TokenUsage:
    token_hash: str
    uses: Sequence[datetime]  # reservation times that still may count
    blocked_until: datetime | None = None  # Truv refused for its own limit


@dataclass(frozen=True, slots=True)
class Decision:
    allowed_tokens: tuple[str, ...]
    exhausted_tokens: Mapping[str, datetime] = field(default_factory=dict)  # token -> frees at
    billable: bool = False
    skip_reason: str | None = None  # None means: reserve `allowed_tokens`
    next_free_at: datetime | None = None

    @property
    def go(self) -> bool:
        return self.skip_reason is None


def next_free(uses: Sequence[datetime], limit: int, window: timedelta, now: datetime) -> datetime | None:
    """When the count in the window drops below `limit`; None if it already is."""
    live = sorted(u for u in uses if u > now - window)
    if len(live) < limit:
        return None
    if limit <= 0:
        return None if not live else live[-1] + window
    return live[len(live) - limit] + window


def _token_frees_at(usage: TokenUsage, limit: int, now: datetime) -> datetime | None:
    frees = next_free(usage.uses, limit, TOKEN_WINDOW, now)
    if limit <= 0:
        frees = frees or now + TOKEN_WINDOW
    if usage.blocked_until is not None and usage.blocked_until > now:
        frees = max(frees, usage.blocked_until) if frees else usage.blocked_until
    return frees


def decide(
    *,
    tokens: Sequence[TokenUsage],
    gse: bool,
    gse_uses: Sequence[datetime],
    billable_uses: Sequence[datetime],
    limits: Limits,
    now: datetime,
    gse_window_start: datetime | None = None,
) -> Decision:
    """Which of a loan's connection tokens may be refreshed now, and whether it is billable.

    Tokens without budget are left out (a partial refresh through the `employers` filter);
    when none is left the loan is skipped with the earliest time a token frees. A GSE loan's
    refresh is free inside its window while fewer than `limits.gse` were made there; past that
    `gse_overage` decides; after the window it is billable like any other.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not tokens:
        return Decision((), skip_reason="no_connections")
    allowed, exhausted = _split_tokens(tokens, limits, now)
    if not allowed:
        return Decision((), exhausted, skip_reason="token_budget", next_free_at=min(exhausted.values()))
    billable = not gse
    if gse:
        gse_blocked, billable = _gse_standing(gse_window_start, gse_uses, limits, now)
        if gse_blocked is not None:
            return Decision((), exhausted, skip_reason="gse_budget", next_free_at=gse_blocked)
    cap_frees = _billable_cap_frees(billable_uses, limits, now) if billable else None
    if cap_frees is not None:
        return Decision((), exhausted, skip_reason="billable_cap", next_free_at=cap_frees)
    return Decision(tuple(allowed), exhausted, billable=billable)


def _split_tokens(tokens: Sequence[TokenUsage], limits: Limits, now: datetime) -> tuple[list[str], dict[str, datetime]]:
    """The tokens with budget left, and the others with when each frees."""
    exhausted: dict[str, datetime] = {}
    allowed: list[str] = []
    for usage in tokens:
        frees = _token_frees_at(usage, limits.per_token, now)
        if frees is None:
            allowed.append(usage.token_hash)
        else:
            exhausted[usage.token_hash] = frees
    return allowed, exhausted


def _gse_standing(
    window_start: datetime | None, gse_uses: Sequence[datetime], limits: Limits, now: datetime
) -> tuple[datetime | None, bool]:
    """A GSE loan: (blocked until, or None; billable). Free inside its window while free uses are left;
    past them `gse_overage` decides; after the window it is billable."""
    terms = gse_terms(window_start=window_start, uses=gse_uses, limits=limits, now=now)
    if not terms.in_window:
        return None, True
    if terms.free_left > 0:
        return None, False
    if limits.gse_overage == "paid":
        return None, True
    # Blocked until the window ends (then billable) or, rolling, until a use ages out.
    return terms.window_end or next_free(gse_uses, limits.gse, GSE_WINDOW, now) or now + GSE_WINDOW, False


def _billable_cap_frees(billable_uses: Sequence[datetime], limits: Limits, now: datetime) -> datetime | None:
    """When the daily billable cap lets one more through; None: it does now (or there is no cap)."""
    if limits.billable_per_day is None:
        return None
    if limits.billable_per_day <= 0:
        return now + BILLABLE_WINDOW
    return next_free(billable_uses, limits.billable_per_day, BILLABLE_WINDOW, now)
