"""The staleness rule is written twice: as SQL (`monitor.store.loan_staleness.stale_clause`, which selects the
loans a pass works) and in Python (`monitor.core.staleness.assess`, which judges each connection and
`loans show`). On random loans, run on a real database, both must say the same.

The one intended difference is DESIGN.md rule 11: a loan imported without a data date whose order was
never read is not stale in SQL (`unknown_clause`: its order is read first), while `assess` calls an
absent date "never verified". Once the order is read, a product with no date is stale in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from monitor.core.calendar import subtract_business_days
from monitor.core.staleness import assess, start_of_day_utc
from monitor.store.db import make_engine, session, upgrade
from monitor.store.loan_staleness import stale_clause, unknown_clause
from monitor.store.tables import loan_table

SCOPE_COLUMNS = {
    "employer": "data_as_of_employers",
    "account": "data_as_of_accounts",
    "insurance": "data_as_of_insurance",
}
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('stale') / 'monitor.db'}"
        urls: Iterator[str] = iter([url])
    else:
        from tests.conftest import _pg_schema_url

        urls = _pg_schema_url()
        url = next(urls)
    built = make_engine(url)
    upgrade(built)
    yield built
    built.dispose()
    for _ in urls:  # let the Postgres schema be dropped
        pass


@dataclass(frozen=True)
class Policy:
    now: datetime
    max_age: timedelta
    pre_closing_days: int | None
    scope: str


@dataclass(frozen=True)
class LoanCase:
    loan_id: str
    read: bool  # the order has been read (`details_fetched_at` set)
    data_as_of: datetime | None  # as imported, then the oldest connection's
    by_scope: dict[str, datetime | None]
    closing_date: date | None

    def judged_date(self, scope: str) -> datetime | None:
        """The date both rules judge (rules 10 and 11): the import's until the order is read."""
        return self.by_scope[scope] if self.read else self.data_as_of


policies = st.builds(
    Policy,
    now=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
    max_age=st.one_of(
        st.integers(min_value=1, max_value=180 * 24 * 60).map(lambda m: timedelta(minutes=m)),
        st.sampled_from([timedelta(days=30), timedelta(hours=24), timedelta(minutes=90), timedelta(weeks=2)]),
    ),
    pre_closing_days=st.one_of(st.none(), st.integers(min_value=1, max_value=20)),
    scope=st.sampled_from(sorted(SCOPE_COLUMNS)),
)


def dates_near(draw: Any, policy: Policy, closing: date | None) -> datetime | None:
    """A data date, often right at one of the rule's edges (the max-age cutoff, a window's start)."""
    cutoff = policy.now - policy.max_age
    edges = [cutoff, policy.now]
    if closing is not None and policy.pre_closing_days:
        edges.append(start_of_day_utc(subtract_business_days(closing, policy.pre_closing_days)))
    micro = timedelta(microseconds=1)
    return draw(
        st.one_of(
            st.none(),
            st.sampled_from(edges).flatmap(lambda e: st.sampled_from([e - micro, e, e + micro])),
            st.integers(min_value=-2 * 86_400, max_value=400 * 86_400).map(lambda s: policy.now - timedelta(seconds=s)),
            st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2031, 1, 1), timezones=st.just(UTC)),
        )
    )


@st.composite
def loans(draw: Any, policy: Policy) -> list[LoanCase]:
    out = []
    for i in range(draw(st.integers(min_value=1, max_value=12))):
        closing = draw(
            st.one_of(
                st.none(), st.integers(min_value=-5, max_value=45).map(lambda d: policy.now.date() + timedelta(d))
            )
        )
        out.append(
            LoanCase(
                loan_id=f"L{i}",
                read=draw(st.booleans()),
                data_as_of=dates_near(draw, policy, closing),
                by_scope={scope: dates_near(draw, policy, closing) for scope in SCOPE_COLUMNS},
                closing_date=closing,
            )
        )
    return out


def expected_stale(loan: LoanCase, policy: Policy) -> bool:
    when = loan.judged_date(policy.scope)
    if when is None:
        return loan.read  # rule 11: unknown until the order is read; after that, never completed is stale
    return assess(
        data_as_of=when,
        closing_date=loan.closing_date,
        max_age=policy.max_age,
        pre_closing_business_days=policy.pre_closing_days,
        now=policy.now,
    ).stale


def sql_verdicts(engine: Engine, cases: list[LoanCase], policy: Policy) -> tuple[set[str], set[str]]:
    """(stale, unknown) loan ids as the store's SQL sees them; the table is emptied again afterwards."""
    rows = [
        {
            "loan_id": c.loan_id,
            "order_id": f"o-{c.loan_id}",
            "gse": False,
            "status": "active",
            "closing_date": c.closing_date,
            "data_as_of": c.data_as_of,
            "details_fetched_at": EPOCH if c.read else None,
            "imported_at": EPOCH,
            "updated_at": EPOCH,
            **{column: c.by_scope[scope] for scope, column in SCOPE_COLUMNS.items()},
        }
        for c in cases
    ]
    clause = stale_clause(
        max_age_cutoff=policy.now - policy.max_age,
        pre_closing_days=policy.pre_closing_days,
        today=policy.now.date(),
        scope=policy.scope,
    )
    with session(engine) as s:
        s.execute(loan_table.insert(), rows)
        stale = set(s.execute(select(loan_table.c.loan_id).where(clause)).scalars())
        unknown = set(s.execute(select(loan_table.c.loan_id).where(unknown_clause())).scalars())
        s.execute(delete(loan_table))
    return stale, unknown


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_stale_clause_and_assess_agree_on_random_loans(engine, data):
    policy = data.draw(policies, label="policy")
    cases = data.draw(loans(policy), label="loans")
    stale, unknown = sql_verdicts(engine, cases, policy)
    assert stale == {c.loan_id for c in cases if expected_stale(c, policy)}
    assert unknown == {c.loan_id for c in cases if not c.read and c.data_as_of is None}
    assert not stale & unknown


@pytest.mark.parametrize(
    ("read", "imported", "employers", "stale"),
    [
        # the imported date judges until the order is read, whatever the connections say
        (False, timedelta(days=40), timedelta(days=1), True),
        (False, timedelta(days=1), timedelta(days=40), False),
        # after: the product's own date
        (True, timedelta(days=1), timedelta(days=40), True),
        (True, timedelta(days=40), timedelta(days=1), False),
        (True, timedelta(days=40), None, True),  # a connection that never completed
        (False, None, timedelta(days=40), False),  # unknown: read first, never assumed stale
    ],
)
def test_the_date_judged_follows_rules_10_and_11(engine, read, imported, employers, stale):
    now = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
    policy = Policy(now=now, max_age=timedelta(days=30), pre_closing_days=None, scope="employer")
    case = LoanCase(
        loan_id="L",
        read=read,
        data_as_of=None if imported is None else now - imported,
        by_scope={"employer": None if employers is None else now - employers, "account": None, "insurance": None},
        closing_date=None,
    )
    found, _ = sql_verdicts(engine, [case], policy)
    assert (found == {"L"}) is stale
    assert expected_stale(case, policy) is stale
