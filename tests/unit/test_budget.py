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
