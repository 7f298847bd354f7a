"""The choice for one loan (monitor.core.refresh_choice), as tables: no database, no Truv."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from monitor.core.refresh_choice import Choice, Fresh, LoanToRefresh, ScopedConnection, Skip, choose, held_back

NOW = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)  # a Friday
OLD = NOW - timedelta(days=40)
NEW = NOW - timedelta(days=2)
LATER = NOW + timedelta(hours=6)
EARLIER = NOW - timedelta(hours=6)


def conn(sid: str, token: str, data_as_of: datetime | None = OLD, state: str | None = None, **kw) -> ScopedConnection:
    return ScopedConnection(sid, token, kw.pop("kind", "employer"), data_as_of, state, kw.pop("retry_after", None))


def loan(*conns: ScopedConnection, products=("income",), hold=None, hold_reason=None, closing=None) -> LoanToRefresh:
    return LoanToRefresh(
        loan_id="L1",
        original_order_id="O1",
        order_products=tuple(products),
        gse=False,
        gse_window_start=None,
        closing_date=closing,
        hold=hold,
        hold_reason=hold_reason,
        connections=conns,
    )


def pick(target: LoanToRefresh, product: str = "income", pre_closing: int | None = None):
    return choose(target, product=product, max_age=timedelta(days=30), pre_closing_business_days=pre_closing, now=NOW)


@pytest.mark.parametrize(
    ("target", "product", "expected"),
    [
        # a hold wins over everything else, named by its reason when it has one
        (loan(conn("s1", "t1"), hold="manual_review", hold_reason="forbidden"), "income", Skip("forbidden")),
        (loan(conn("s1", "t1"), hold="needs_new_order"), "income", Skip("needs_new_order")),
        # one product per request (rule 5): an income order may be refreshed as employment, not the reverse
        (
            loan(conn("s1", "t1"), products=("employment",)),
            "income",
            Skip("product_not_allowed", {"order_products": "employment", "product": "income"}, pass_on=True),
        ),
        (loan(conn("s1", "t1"), products=("income", "assets")), "employment", "choice"),
        # no connection of the product, or every connection fresh
        (loan(), "income", Skip("no_connection")),
        (loan(conn("s1", "t1", NEW)), "income", Fresh()),
        # held-back connections: the commonest reason names the skip
        (loan(conn("s1", "t1", state="needs_reauth")), "income", Skip("needs_reauth")),
        (
            loan(conn("s1", "t1", state="manual_review"), conn("s2", "t2", state="retry_later", retry_after=LATER)),
            "income",
            Skip("manual_review"),
        ),
        (
            loan(
                conn("s1", "t1", state="needs_new_order"),
                conn("s2", "t2", state="retry_later", retry_after=LATER),
                conn("s3", "t3", state="retry_later", retry_after=LATER),
            ),
            "income",
            Skip("retry_backoff"),
        ),
        # a fresh connection that is held back does not make the loan skip: it is simply fresh
        (loan(conn("s1", "t1", NEW, state="needs_reauth")), "income", Fresh()),
    ],
)
def test_choose(target, product, expected):
    got = pick(target, product)
    if expected == "choice":
        assert isinstance(got, Choice)
    else:
        assert got == expected


def test_a_loan_whose_connections_never_completed_is_never_verified():
    # truv-api.md section 10: an expired, canceled, skipped or no_data suborder has nothing to refresh.
    got = pick(loan(conn("s1", "t1", None), conn("s2", "t2", None)))
    assert isinstance(got, Skip) and got.reason == "never_verified"


def test_a_connection_never_completed_is_left_out_of_the_refresh_of_the_others():
    got = pick(loan(conn("s1", "t1", None), conn("s2", "t2")))
    assert isinstance(got, Choice) and got.tokens == ["t2"]
    assert got.filters(got.picked(got.tokens)) == {"employers": [{"id": "s2"}]}


def test_a_never_completed_connection_beside_a_fresh_one_is_fresh():
    assert isinstance(pick(loan(conn("s1", "t1", None), conn("s2", "t2", NEW))), Fresh)


def test_stale_connections_are_grouped_by_token_and_held_ones_left_out():
    got = pick(
        loan(
            conn("s1", "shared"),
            conn("s2", "shared"),
            conn("s3", "own"),
            conn("s4", "reauth", state="needs_reauth"),
            conn("s5", "fresh", NEW),
        )
    )
    assert isinstance(got, Choice)
    assert got.suborders == {"shared": ["s1", "s2"], "own": ["s3"]}
    assert got.tokens == ["own", "shared"]
    assert got.held == Counter({"needs_reauth": 1})
    assert got.in_scope == 5


def test_pre_closing_window_makes_a_recent_connection_stale():
    # closing Tuesday 9 June: two business days before starts Friday 5 June, so data from Thursday is stale
    target = loan(conn("s1", "t1", NOW - timedelta(days=1)), closing=date(2026, 6, 9))
    assert isinstance(pick(target, pre_closing=2), Choice)
    assert pick(target) == Fresh()


@pytest.mark.parametrize(
    ("state", "retry_after", "expected"),
    [
        (None, None, None),
        ("ok", None, None),
        ("needs_reauth", None, "needs_reauth"),
        ("manual_review", None, "manual_review"),
        ("needs_new_order", None, "needs_new_order"),
        ("retry_later", LATER, "retry_backoff"),
        ("retry_later", EARLIER, None),  # the backoff is over
        ("retry_later", None, None),
    ],
)
def test_held_back(state, retry_after, expected):
    assert held_back(conn("s1", "t1", state=state, retry_after=retry_after), NOW) == expected


def choice(in_scope: int, held: int = 0) -> Choice:
    return Choice(
        suborders={"ta": ["e1", "e2"], "tb": ["a1"]},
        kinds={"e1": "employer", "e2": "employer", "a1": "account"},
        held=Counter({"needs_reauth": held}) if held else Counter(),
        in_scope=in_scope,
    )


@pytest.mark.parametrize(
    ("allowed", "in_scope", "held", "exhausted", "picked", "partial", "filters"),
    [
        # every connection refreshed: no filter, not partial
        (("ta", "tb"), 3, 0, False, ["e1", "e2", "a1"], False, {}),
        # a token the budget left out: the refresh names the original's suborders (rule 6)
        (("ta",), 3, 0, True, ["e1", "e2"], True, {"employers": [{"id": "e1"}, {"id": "e2"}]}),
        (("tb",), 3, 0, True, ["a1"], True, {"financial_accounts": [{"id": "a1"}]}),
        # a fresh connection in scope is left alone as well
        (
            ("ta", "tb"),
            4,
            0,
            False,
            ["e1", "e2", "a1"],
            True,
            {"employers": [{"id": "e1"}, {"id": "e2"}], "financial_accounts": [{"id": "a1"}]},
        ),
        # a held-back connection makes it partial
        (("ta", "tb"), 3, 1, False, ["e1", "e2", "a1"], True, {}),
    ],
)
def test_picked_partial_and_filters(allowed, in_scope, held, exhausted, picked, partial, filters):
    c = choice(in_scope, held)
    assert c.picked(allowed) == picked
    assert c.partial(picked, exhausted=exhausted) is partial
    assert c.filters(picked) == filters


def test_insurance_has_no_filter():
    c = Choice(suborders={"t": ["i1"]}, kinds={"i1": "insurance", "i2": "insurance"}, held=Counter(), in_scope=2)
    assert c.filters(["i1"]) == {}
