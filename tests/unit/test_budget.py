from datetime import UTC, datetime, timedelta

import pytest

from monitor.core.budget import Limits, TokenUsage, decide, next_free

NOW = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def ago(delta: timedelta) -> datetime:
    return NOW - delta


@pytest.mark.parametrize(
    ("uses", "limit", "expected"),
    [
        ([], 3, None),
        ([ago(H), ago(2 * H)], 3, None),
        ([ago(H), ago(2 * H), ago(3 * H)], 3, ago(3 * H) + D),
        # exactly 24 h old no longer counts: the window is (now - 24h, now]
        ([ago(D), ago(2 * H), ago(3 * H)], 3, None),
        ([ago(D - timedelta(seconds=1)), ago(2 * H), ago(3 * H)], 3, NOW + timedelta(seconds=1)),
        # four uses (e.g. one recorded from elsewhere): two must age out
        ([ago(H), ago(2 * H), ago(3 * H), ago(4 * H)], 3, ago(3 * H) + D),
    ],
)
def test_next_free_rolling_window(uses, limit, expected):
    assert next_free(uses, limit, D, NOW) == expected


def decide_for(tokens, *, gse=False, gse_uses=(), billable_uses=(), limits=Limits()):
    return decide(
        tokens=tokens, gse=gse, gse_uses=list(gse_uses), billable_uses=list(billable_uses), limits=limits, now=NOW
    )


def test_token_with_budget_is_allowed_and_non_gse_is_billable():
    d = decide_for([TokenUsage("a", [ago(H)])])
    assert d.go and d.allowed_tokens == ("a",) and d.billable


def test_exhausted_token_skips_with_time_it_frees():
    d = decide_for([TokenUsage("a", [ago(H), ago(2 * H), ago(5 * H)])])
    assert d.skip_reason == "token_budget"
    assert d.next_free_at == ago(5 * H) + D


def test_partial_refresh_keeps_tokens_with_budget():
    d = decide_for([TokenUsage("a", [ago(H)] * 3), TokenUsage("b", [])])
    assert d.go and d.allowed_tokens == ("b",)
    assert d.exhausted_tokens == {"a": ago(H) + D}


def test_truv_block_counts_as_spent_until_it_lapses():
    blocked = TokenUsage("a", [], blocked_until=NOW + 5 * H)
    assert decide_for([blocked]).skip_reason == "token_budget"
    lapsed = TokenUsage("a", [], blocked_until=NOW - timedelta(seconds=1))
    assert decide_for([lapsed]).go


def test_gse_fifth_allowed_sixth_blocked():
    four = [ago(10 * D), ago(20 * D), ago(30 * D), ago(40 * D)]
    assert decide_for([TokenUsage("a", [])], gse=True, gse_uses=four).go
    five = [*four, ago(89 * D)]
    d = decide_for([TokenUsage("a", [])], gse=True, gse_uses=five)
    assert d.skip_reason == "gse_budget"
    assert d.next_free_at == ago(89 * D) + timedelta(days=90)


def test_gse_use_older_than_90_days_frees():
    uses = [ago(10 * D), ago(20 * D), ago(30 * D), ago(40 * D), ago(90 * D)]
    d = decide_for([TokenUsage("a", [])], gse=True, gse_uses=uses)
    assert d.go and not d.billable


def test_gse_paid_overage_is_allowed_and_billable():
    five = [ago(i * D) for i in range(1, 6)]
    d = decide_for([TokenUsage("a", [])], gse=True, gse_uses=five, limits=Limits(gse_overage="paid"))
    assert d.go and d.billable


def test_billable_cap_bounds_cost():
    limits = Limits(billable_per_day=2)
    assert decide_for([TokenUsage("a", [])], billable_uses=[ago(H)], limits=limits).go
    d = decide_for([TokenUsage("a", [])], billable_uses=[ago(H), ago(2 * H)], limits=limits)
    assert d.skip_reason == "billable_cap"
    # a GSE refresh inside its free budget is not billable, so the cap does not apply
    assert decide_for([TokenUsage("a", [])], gse=True, billable_uses=[ago(H), ago(2 * H)], limits=limits).go


def test_no_connections_is_a_skip():
    assert decide_for([]).skip_reason == "no_connections"


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        decide(tokens=[], gse=False, gse_uses=[], billable_uses=[], limits=Limits(), now=NOW.replace(tzinfo=None))


# -- Truv's free GSE window: 90 days from the original order, at most 5 in it (DESIGN.md rule 2) --

CAP2 = Limits(billable_per_day=2)
TOK = [TokenUsage("a", [])]


@pytest.mark.parametrize(
    ("start", "uses", "limits", "go", "billable", "reason", "frees"),
    [
        # inside the window: 4 used, the 5th is free
        (ago(30 * D), [ago(i * D) for i in range(1, 5)], Limits(), True, False, None, None),
        # inside the window: 5 used, the 6th is blocked until the window ends (then billable)
        (ago(30 * D), [ago(i * D) for i in range(1, 6)], Limits(), False, False, "gse_budget", ago(30 * D) + 90 * D),
        # the 6th with gse_overage: paid is allowed and billable
        (ago(30 * D), [ago(i * D) for i in range(1, 6)], Limits(gse_overage="paid"), True, True, None, None),
        # uses before the window (impossible in practice, e.g. clock skew) do not count in it
        (ago(30 * D), [ago(40 * D)] * 5, Limits(), True, False, None, None),
        # the window is not rolling: 5 uses early in it still block on day 80
        (
            ago(80 * D),
            [ago(79 * D + i * H) for i in range(5)],
            Limits(),
            False,
            False,
            "gse_budget",
            ago(80 * D) + 90 * D,
        ),
        # after the window: billable like any other refresh, even with no GSE use at all
        (ago(91 * D), [], Limits(), True, True, None, None),
        # ... and so the daily cap on billable refreshes applies
        (ago(91 * D), [], CAP2, False, False, "billable_cap", None),
        # exactly 90 days after the start the window has ended: [start, start + 90 d)
        (ago(90 * D), [], Limits(), True, True, None, None),
    ],
)
def test_gse_free_window_from_the_original_order(start, uses, limits, go, billable, reason, frees):
    billable_uses = [ago(H), ago(2 * H)] if limits.billable_per_day else []
    d = decide(
        tokens=TOK,
        gse=True,
        gse_uses=uses,
        billable_uses=billable_uses,
        limits=limits,
        now=NOW,
        gse_window_start=start,
    )
    assert (d.go, d.billable if go else False, d.skip_reason) == (go, billable, reason)
    if frees is not None:
        assert d.next_free_at == frees


def test_gse_terms_report_the_window_and_what_is_left():
    from monitor.core.budget import gse_terms

    terms = gse_terms(window_start=ago(10 * D), uses=[ago(D), ago(2 * D)], limits=Limits(), now=NOW)
    assert (terms.window_end, terms.used, terms.free_left, terms.in_window) == (ago(10 * D) + 90 * D, 2, 3, True)
    over = gse_terms(window_start=ago(100 * D), uses=[ago(95 * D)], limits=Limits(), now=NOW)
    assert (over.used, over.in_window) == (1, False)


@pytest.mark.parametrize(
    ("sent", "created", "margin", "expected"),
    [
        (NOW, None, timedelta(minutes=5), NOW + timedelta(minutes=5)),
        # Truv's clock ahead of ours: its created_at is the later moment
        (NOW, NOW + timedelta(minutes=2), timedelta(minutes=5), NOW + timedelta(minutes=7)),
        # Truv's clock behind: our send time stands
        (NOW, NOW - timedelta(minutes=2), timedelta(minutes=5), NOW + timedelta(minutes=5)),
        (NOW, None, timedelta(0), NOW),
    ],
)
def test_a_use_counts_from_the_latest_moment_truv_may_have_counted_it(sent, created, margin, expected):
    from monitor.core.budget import counts_from

    assert counts_from(sent, Limits(clock_skew_margin=margin), created) == expected
