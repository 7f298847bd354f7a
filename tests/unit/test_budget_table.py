"""The refresh budgets as tables (DESIGN.md rules 1, 2 and 12; README "How the budgets are kept").

Expected values come from the rules: 3 refreshes per access token in any rolling 24 h, one unit per
token refreshed; 5 free GSE re-verifications in the 90 days from the original order, then `block`
or `paid`; billable outside that, with an optional cap per rolling 24 h. No database, a frozen `now`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.budget import (
    BILLABLE_WINDOW,
    GSE_WINDOW,
    TOKEN_WINDOW,
    Limits,
    TokenUsage,
    counts_from,
    decide,
    gse_terms,
    next_free,
)

NOW = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


def ago(delta: timedelta) -> datetime:
    return NOW - delta


def run(tokens, *, gse=False, gse_uses=(), billable_uses=(), limits=Limits(), start=None):
    return decide(
        tokens=tokens,
        gse=gse,
        gse_uses=list(gse_uses),
        billable_uses=list(billable_uses),
        limits=limits,
        now=NOW,
        gse_window_start=start,
    )


def test_the_windows_are_the_documented_ones():
    windows = (TOKEN_WINDOW, GSE_WINDOW, BILLABLE_WINDOW)
    assert windows == (timedelta(hours=24), timedelta(days=90), timedelta(hours=24))
    defaults = Limits()
    assert (defaults.per_token, defaults.gse, defaults.gse_overage, defaults.billable_per_day) == (3, 5, "block", None)


# -- rule 1: per access token, rolling 24 h -------------------------------------------------------------


@pytest.mark.parametrize(
    ("uses", "per_token", "go", "frees"),
    [
        ([], 3, True, None),
        ([ago(H)], 3, True, None),
        ([ago(H), ago(2 * H)], 3, True, None),
        # the third use in 24 h spends the token; it frees when the oldest of the three is 24 h old
        ([ago(H), ago(2 * H), ago(3 * H)], 3, False, ago(3 * H) + D),
        ([ago(10 * M), ago(20 * H), ago(23 * H)], 3, False, ago(23 * H) + D),
        # a use 24 h old or more no longer counts
        ([ago(H), ago(2 * H), ago(D)], 3, True, None),
        ([ago(H), ago(2 * H), ago(D + S)], 3, True, None),
        ([ago(H), ago(2 * H), ago(D - S)], 3, False, NOW + S),
        ([ago(25 * H)] * 10, 3, True, None),
        # more uses than the limit (recorded elsewhere): frees when enough have aged out
        ([ago(H), ago(2 * H), ago(3 * H), ago(4 * H), ago(5 * H)], 3, False, ago(3 * H) + D),
        # the limit is configurable
        ([ago(H)], 1, False, ago(H) + D),
        ([], 1, True, None),
        ([ago(H)] * 4, 5, True, None),
        ([ago(H)] * 5, 5, False, ago(H) + D),
        # a use in the future (its count starts after send + skew margin) counts already
        ([NOW + 5 * M, ago(H), ago(2 * H)], 3, False, ago(2 * H) + D),
    ],
)
def test_one_token(uses, per_token, go, frees):
    d = run([TokenUsage("t", uses)], limits=Limits(per_token=per_token))
    assert d.go is go
    if go:
        assert d.allowed_tokens == ("t",) and dict(d.exhausted_tokens) == {}
    else:
        assert d.skip_reason == "token_budget"
        assert d.allowed_tokens == ()
        assert d.next_free_at == frees
        assert dict(d.exhausted_tokens) == {"t": frees}


def test_a_zero_budget_per_token_never_refreshes():
    for uses in ([], [ago(H)], [ago(30 * H)]):
        assert run([TokenUsage("t", uses)], limits=Limits(per_token=0)).skip_reason == "token_budget"


@pytest.mark.parametrize(
    ("usage", "allowed", "exhausted"),
    [
        # an order with several employers spends one unit on each token it refreshes; spent tokens are
        # left out (the `employers` filter) while the others go
        ({"a": [], "b": []}, ("a", "b"), {}),
        ({"a": [ago(H)] * 3, "b": []}, ("b",), {"a": ago(H) + D}),
        ({"a": [], "b": [ago(2 * H)] * 3, "c": [ago(H)] * 2}, ("a", "c"), {"b": ago(2 * H) + D}),
        ({"b": [], "a": []}, ("b", "a"), {}),  # the caller's order is kept
    ],
)
def test_several_tokens_refresh_only_those_with_budget(usage, allowed, exhausted):
    d = run([TokenUsage(t, u) for t, u in usage.items()])
    assert d.go and d.allowed_tokens == allowed
    assert dict(d.exhausted_tokens) == exhausted


def test_when_every_token_is_spent_the_loan_waits_for_the_first_to_free():
    d = run([TokenUsage("a", [ago(H)] * 3), TokenUsage("b", [ago(5 * H)] * 3), TokenUsage("c", [ago(2 * H)] * 3)])
    assert d.skip_reason == "token_budget"
    assert d.next_free_at == ago(5 * H) + D
    assert set(d.exhausted_tokens) == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("uses", "blocked_until", "go", "frees"),
    [
        # Truv refused for its own limit: spent until the block lapses, whatever our ledger says
        ([], NOW + 6 * H, False, NOW + 6 * H),
        ([], NOW + S, False, NOW + S),
        ([], NOW, True, None),
        ([], NOW - S, True, None),
        # both: the later of the two
        ([ago(20 * H)] * 3, NOW + 6 * H, False, NOW + 6 * H),
        ([ago(H)] * 3, NOW + 6 * H, False, ago(H) + D),
        ([ago(H)] * 2, NOW + 6 * H, False, NOW + 6 * H),
    ],
)
def test_a_token_truv_refused(uses, blocked_until, go, frees):
    d = run([TokenUsage("t", uses, blocked_until=blocked_until)])
    assert d.go is go
    assert d.next_free_at == frees


def test_no_token_is_a_skip_and_naive_time_is_refused():
    assert run([]).skip_reason == "no_connections"
    with pytest.raises(ValueError):
        decide(tokens=[], gse=False, gse_uses=[], billable_uses=[], limits=Limits(), now=NOW.replace(tzinfo=None))


# -- rule 2: GSE re-verifications ---------------------------------------------------------------------

FREE = [TokenUsage("t", [])]


def days_ago(*days: float) -> list[datetime]:
    return [ago(timedelta(days=d)) for d in days]


@pytest.mark.parametrize(
    ("start", "uses", "overage", "go", "billable", "reason", "frees"),
    [
        # inside the window (from the original order), up to 5 are free
        (ago(30 * D), [], "block", True, False, None, None),
        (ago(30 * D), days_ago(1, 2, 3, 4), "block", True, False, None, None),
        # the 6th: blocked until the window ends, or paid and billable
        (ago(30 * D), days_ago(1, 2, 3, 4, 5), "block", False, False, "gse_budget", ago(30 * D) + 90 * D),
        (ago(30 * D), days_ago(1, 2, 3, 4, 5), "paid", True, True, None, None),
        (ago(30 * D), days_ago(1, 2, 3, 4, 5, 6, 7), "paid", True, True, None, None),
        # the window does not roll: 5 uses on day 1 still block on day 89
        (ago(89 * D), days_ago(88, 88, 88, 88, 88), "block", False, False, "gse_budget", NOW + D),
        # uses before the window started do not count in it
        (ago(10 * D), days_ago(11, 12, 13, 14, 15), "block", True, False, None, None),
        # after the 90 days: billable like any other refresh, and no block
        (ago(90 * D), [], "block", True, True, None, None),
        (ago(90 * D - S), [], "block", True, False, None, None),
        (ago(120 * D), days_ago(100, 101, 102, 103, 104), "block", True, True, None, None),
        (ago(91 * D), days_ago(1, 2, 3, 4, 5), "block", True, True, None, None),
    ],
)
def test_gse_window_from_the_original_order(start, uses, overage, go, billable, reason, frees):
    d = run(FREE, gse=True, gse_uses=uses, limits=Limits(gse_overage=overage), start=start)
    assert (d.go, d.skip_reason) == (go, reason)
    if go:
        assert d.billable is billable
    if frees is not None:
        assert d.next_free_at == frees


@pytest.mark.parametrize(
    ("uses", "go", "frees"),
    [
        # the window start unknown (the order not read yet): the 90 days before now, the stricter reading
        (days_ago(1, 2, 3, 4), True, None),
        (days_ago(1, 2, 3, 4, 80), False, ago(80 * D) + 90 * D),
        (days_ago(1, 2, 3, 4, 90), True, None),  # exactly 90 days old: out of the rolling window
        (days_ago(1, 2, 3, 4, 89.5), False, ago(89.5 * D) + 90 * D),
        (days_ago(1, 2, 10, 20, 30, 40), False, ago(30 * D) + 90 * D),
    ],
)
def test_gse_window_rolls_while_its_start_is_unknown(uses, go, frees):
    d = run(FREE, gse=True, gse_uses=uses)
    assert d.go is go
    if go:
        assert not d.billable  # inside a (rolling) window the refresh is free
    else:
        assert d.skip_reason == "gse_budget" and d.next_free_at == frees


def test_a_gse_budget_of_zero_blocks_or_bills_every_refresh_in_the_window():
    assert run(FREE, gse=True, limits=Limits(gse=0), start=ago(D)).skip_reason == "gse_budget"
    paid = run(FREE, gse=True, limits=Limits(gse=0, gse_overage="paid"), start=ago(D))
    assert paid.go and paid.billable


def test_gse_uses_do_not_touch_a_non_gse_loan():
    d = run(FREE, gse=False, gse_uses=days_ago(1, 2, 3, 4, 5, 6))
    assert d.go and d.billable


def test_the_token_budget_applies_to_gse_loans_too():
    d = run([TokenUsage("t", [ago(H)] * 3)], gse=True, start=ago(D))
    assert d.skip_reason == "token_budget"


# -- billable refreshes: the optional daily cap --------------------------------------------------------


@pytest.mark.parametrize(
    ("cap", "billable_uses", "go", "frees"),
    [
        (None, [ago(H)] * 500, True, None),
        (2, [], True, None),
        (2, [ago(H)], True, None),
        (2, [ago(H), ago(3 * H)], False, ago(3 * H) + D),
        (2, [ago(H), ago(D)], True, None),  # 24 h old: out of the window
        (2, [ago(H), ago(D - S)], False, NOW + S),
        (0, [], False, NOW + D),
    ],
)
def test_billable_cap_on_a_non_gse_loan(cap, billable_uses, go, frees):
    d = run(FREE, billable_uses=billable_uses, limits=Limits(billable_per_day=cap))
    assert d.go is go
    if go:
        assert d.billable
    else:
        assert d.skip_reason == "billable_cap" and d.next_free_at == frees


@pytest.mark.parametrize(
    ("start", "uses", "overage", "capped"),
    [
        (ago(10 * D), [], "block", False),  # free inside the window: the cap is about cost, so not here
        (ago(10 * D), days_ago(1, 2, 3, 4, 5), "paid", True),  # a paid overage is billable
        (ago(100 * D), [], "block", True),  # after the window: billable
    ],
)
def test_billable_cap_on_a_gse_loan(start, uses, overage, capped):
    limits = Limits(billable_per_day=1, gse_overage=overage)
    d = run(FREE, gse=True, gse_uses=uses, billable_uses=[ago(H)], limits=limits, start=start)
    assert (d.skip_reason == "billable_cap") is capped
    assert d.go is not capped


# -- rule 12: when a use starts counting ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "created", "margin", "expected"),
    [
        (NOW, None, 5 * M, NOW + 5 * M),
        (NOW, NOW + 3 * M, 5 * M, NOW + 8 * M),  # Truv's clock ahead: its created_at is later
        (NOW, NOW - 3 * M, 5 * M, NOW + 5 * M),  # behind: our send time stands
        (NOW, NOW, 0 * M, NOW),
        (NOW, NOW + H, 0 * M, NOW + H),
    ],
)
def test_a_use_counts_from_the_latest_moment_truv_may_have_counted_it(sent, created, margin, expected):
    assert counts_from(sent, Limits(clock_skew_margin=margin), created) == expected


def test_a_use_counting_from_the_margin_keeps_its_token_spent_that_much_longer():
    start = counts_from(ago(24 * H), Limits(), None)  # sent 24 h ago, counts from 23 h 55 min ago
    d = run([TokenUsage("t", [start, ago(H), ago(2 * H)])])
    assert d.skip_reason == "token_budget" and d.next_free_at == NOW + 5 * M


# -- the helpers: next_free and gse_terms --------------------------------------------------------------


@pytest.mark.parametrize(
    ("uses", "limit", "window", "expected"),
    [
        ([], 3, D, None),
        ([ago(H)] * 3, 3, D, ago(H) + D),
        ([ago(H), ago(2 * H), ago(3 * H)], 2, D, ago(2 * H) + D),
        ([ago(H), ago(2 * H), ago(3 * H)], 1, D, ago(H) + D),
        ([ago(10 * D)] * 5, 5, 90 * D, ago(10 * D) + 90 * D),
        ([ago(91 * D)] * 5, 5, 90 * D, None),
        ([ago(H)], 0, D, ago(H) + D),
        ([], 0, D, None),
    ],
)
def test_next_free(uses, limit, window, expected):
    assert next_free(uses, limit, window, NOW) == expected


@pytest.mark.parametrize(
    ("start", "uses", "gse", "end", "used", "left", "in_window"),
    [
        (ago(10 * D), [], 5, ago(10 * D) + 90 * D, 0, 5, True),
        (ago(10 * D), days_ago(1, 2), 5, ago(10 * D) + 90 * D, 2, 3, True),
        (ago(10 * D), days_ago(1, 2, 3, 4, 5, 6), 5, ago(10 * D) + 90 * D, 6, 0, True),
        (ago(10 * D), days_ago(11, 12), 5, ago(10 * D) + 90 * D, 0, 5, True),
        (ago(100 * D), days_ago(95, 5), 5, ago(10 * D), 1, 4, False),
        (ago(90 * D), [], 5, NOW, 0, 5, False),
        (None, days_ago(1, 89, 91), 5, None, 2, 3, True),
        (None, [], 2, None, 0, 2, True),
    ],
)
def test_gse_terms(start, uses, gse, end, used, left, in_window):
    terms = gse_terms(window_start=start, uses=uses, limits=Limits(gse=gse), now=NOW)
    assert (terms.window_start, terms.window_end, terms.used, terms.free_left, terms.in_window) == (
        start,
        end,
        used,
        left,
        in_window,
    )


# -- properties ----------------------------------------------------------------------------------------

offsets = st.lists(st.integers(min_value=-3600, max_value=48 * 3600), max_size=8)


@settings(deadline=None)
@given(offsets, st.integers(min_value=1, max_value=5))
def test_a_token_goes_exactly_while_fewer_than_its_limit_count_in_the_last_24_h(seconds_ago, per_token):
    uses = [ago(timedelta(seconds=s)) for s in seconds_ago]
    live = [u for u in uses if u > NOW - TOKEN_WINDOW]
    d = run([TokenUsage("t", uses)], limits=Limits(per_token=per_token))
    assert d.go is (len(live) < per_token)
    if not d.go:
        # frees exactly when enough uses have aged out, and not before
        assert d.next_free_at is not None and d.next_free_at > NOW
        later = [u for u in uses if u > d.next_free_at - TOKEN_WINDOW]
        assert len(later) < per_token
        just_before = [u for u in uses if u > d.next_free_at - S - TOKEN_WINDOW]
        assert len(just_before) >= per_token


@settings(deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=200), max_size=9), st.integers(min_value=0, max_value=120))
def test_a_gse_loan_never_gets_a_sixth_free_refresh_inside_its_window(days_list, start_days):
    start = ago(timedelta(days=start_days))
    uses = [ago(timedelta(days=d)) for d in days_list]
    d = run(FREE, gse=True, gse_uses=uses, start=start)
    in_window = [u for u in uses if start <= u < start + GSE_WINDOW]
    window_end = start + GSE_WINDOW
    if window_end <= NOW:
        assert d.go and d.billable
    elif len(in_window) >= 5:
        assert d.skip_reason == "gse_budget" and d.next_free_at == start + GSE_WINDOW
    else:
        assert d.go and not d.billable
