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


@dataclass(frozen=True, slots=True)
class Limits:
    per_token: int = 3
    gse: int = 5
    gse_overage: str = "block"  # "block" | "paid"
    billable_per_day: int | None = None


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
) -> Decision:
    """Which of a loan's connection tokens may be refreshed now, and whether it is billable.

    Tokens without budget are left out (a partial refresh through the `employers` filter);
    when none is left the loan is skipped with the earliest time a token frees.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not tokens:
        return Decision((), skip_reason="no_connections")
    exhausted: dict[str, datetime] = {}
    allowed: list[str] = []
    for usage in tokens:
        frees = _token_frees_at(usage, limits.per_token, now)
        if frees is None:
            allowed.append(usage.token_hash)
        else:
            exhausted[usage.token_hash] = frees
    if not allowed:
        return Decision((), exhausted, skip_reason="token_budget", next_free_at=min(exhausted.values()))

    billable = not gse
    if gse:
        gse_frees = next_free(gse_uses, limits.gse, GSE_WINDOW, now)
        if limits.gse <= 0:
            gse_frees = now + GSE_WINDOW
        if gse_frees is not None:
            if limits.gse_overage != "paid":
                return Decision((), exhausted, skip_reason="gse_budget", next_free_at=gse_frees)
            billable = True
    if billable and limits.billable_per_day is not None:
        cap_frees = next_free(billable_uses, limits.billable_per_day, BILLABLE_WINDOW, now)
        if limits.billable_per_day <= 0:
            cap_frees = now + BILLABLE_WINDOW
        if cap_frees is not None:
            return Decision((), exhausted, skip_reason="billable_cap", next_free_at=cap_frees)
    return Decision(tuple(allowed), exhausted, billable=billable)
