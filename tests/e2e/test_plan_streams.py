"""`plan` in flat memory (issue 26, point 2): the plan reads its candidates as it decides them and writes
each listed decision out as it is made, so a 5M-loan book is not held; its totals and rows are the same.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from monitor.clock import FixedClock
from monitor.core.readable import dumps
from monitor.jobs.candidate_spool import PAGE
from monitor.jobs.candidates import BATCH, Criteria
from monitor.jobs.plan import Plan
from monitor.jobs.refresh_pass import JobPass
from monitor.json_listing import SpooledRows
from monitor.sandbox import Sandbox
from monitor.store.db import session
from monitor.store.tables import Loan
from tests.e2e.test_plan_agrees import cfg, portfolio
from tests.helpers import config, import_csv, seed_loans, services, write_csv


def a_book(db_url: str, clock: FixedClock, tmp_path: Any, n: int) -> Any:
    """`n` loans whose orders the pass before read, a month on: refreshes, skips of several reasons and
    loans past max_refreshes, under two policies sharing the job."""
    sandbox = Sandbox(seed=7, clock=clock, completion_delay=5.0)
    first = services(db_url, clock, sandbox, cfg(max_refreshes=5000, workers=4))
    import_csv(first, write_csv(tmp_path / "loans.csv", seed_loans(sandbox, portfolio(n), tmp_path, clock)))
    JobPass(first, first.config.job("nightly"), wait_seconds=60).run()
    clock.advance(31 * 86400)
    with session(first.engine) as s:
        s.execute(update(Loan).where(Loan.loan_id.like("L0%7")).values(hold="manual_review", hold_reason="forbidden"))
    return services(db_url, clock, sandbox, cfg(max_refreshes=n // 10, gse=1))


def test_the_plans_rows_and_counts_are_the_selections_and_its_json_is_one_sorted_object(
    db_url: str, clock: FixedClock, tmp_path: Any
) -> None:
    svc = a_book(db_url, clock, tmp_path, 300)
    job = svc.config.job("nightly")
    held = Plan(svc, job)
    summary = held.run()
    rows = held.loans

    # Every selected loan once per policy, in the selection's order; a later policy lists every loan an
    # earlier one did not (and the ones it passed on).
    assert held.loans_total == held.loans_listed == len(rows) > 250
    now = clock.now()
    earlier: set[str] = set()
    for at, name in enumerate(job.policies):
        listed = [r["loan_id"] for r in rows if r["policy"] == name]
        selection = [
            c.loan_id for c in Criteria.of(svc.config.policy(name), now).select(svc.engine, now=now, limit=None)
        ]
        if at == 0:
            assert listed == selection
        assert listed == [x for x in selection if x in set(listed)], name
        assert set(selection) - earlier <= set(listed), name
        earlier.update(listed)
    # The counts are the rows'.
    decisions = Counter(r["decision"] for r in rows)
    skips = Counter(r["reason"] for r in rows if r["decision"] == "skip")
    assert decisions["refresh"] == summary.submitted > 0
    assert len(skips) >= 3 and all(summary.skipped[reason] == n for reason, n in skips.items())  # + on_hold
    assert decisions["not_reached"] == summary.not_reached > 0
    assert decisions["none"] == summary.not_stale

    # Streamed into a file: the same rows, and the object `dumps(..., sort_keys=True)` prints of it all.
    for keep in (None, 7):
        with SpooledRows() as spool:
            streamed = Plan(svc, job, keep=keep, into=spool.append)
            again = streamed.run()
            assert streamed.loans == []  # nothing held
            fields = {**again.as_dict(), "loans_total": streamed.loans_total, "loans_truncated": keep is not None}
            out = io.StringIO()
            spool.write_object(fields, "loans", out)
        text = out.getvalue()
        expected = json.loads(dumps(rows[:keep]))
        assert json.loads(text)["loans"] == expected
        assert text == dumps({**fields, "loans": expected}, sort_keys=True) + "\n"
        assert (again.submitted, again.skipped, again.not_reached) == (
            summary.submitted,
            summary.skipped,
            summary.not_reached,
        )


def test_a_plan_reads_its_candidates_as_it_decides_them_and_keeps_no_row_it_was_not_asked_for(
    db_url: str, clock: FixedClock, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    n, max_refreshes = 1500, 100
    path = tmp_path / "loans.csv"
    stale = (clock.now() - timedelta(days=45)).isoformat()
    write_csv(path, [{"loan_id": f"S{i:05d}", "order_id": f"o{i}", "data_as_of": stale} for i in range(n)])
    svc = services(db_url, clock, None, config(max_refreshes=max_refreshes, concurrency=2))
    import_csv(svc, path)

    plan = Plan(svc, svc.config.job("nightly"), keep=0)
    ahead: list[int] = []  # at each candidate taken: how many the plan had taken but not yet decided
    real = Criteria.stream

    @contextmanager
    def watched(self: Criteria, engine: Any, *, now: Any) -> Iterator[Iterator[Any]]:
        with real(self, engine, now=now) as found:

            def counted() -> Iterator[Any]:
                for taken, cand in enumerate(found):
                    ahead.append(taken - plan.loans_total)
                    yield cand

            yield counted()

    monkeypatch.setattr(Criteria, "stream", watched)
    summary = plan.run()

    assert len(ahead) == n and plan.loans_total == n
    assert (summary.details_needed, summary.not_reached) == (max_refreshes, n - max_refreshes)
    # Never more than one batch taken ahead of the decisions: a plan holding its selection takes all n first.
    assert max(ahead) <= BATCH
    assert plan.loans == [] and plan.loans_listed == 0


def test_the_selection_is_read_in_one_short_transaction_and_held_a_page_at_a_time(
    db_url: str, clock: FixedClock, tmp_path: Any
) -> None:
    """The plan may take hours of paced order reads: its candidates come from a file, not an open cursor."""
    n = 2 * PAGE + 5
    path = tmp_path / "loans.csv"
    stale = (clock.now() - timedelta(days=45)).isoformat()
    write_csv(path, [{"loan_id": f"S{i:05d}", "order_id": f"o{i}", "data_as_of": stale} for i in range(n)])
    svc = services(db_url, clock, None, config())
    import_csv(svc, path)
    now = clock.now()
    criteria = Criteria.of(svc.config.policy("income-30d"), now)
    selected = [c.loan_id for c in criteria.select(svc.engine, now=now, limit=None)]
    with criteria.stream(svc.engine, now=now) as found:
        first = next(found)
        assert svc.engine.pool.checkedout() == 0  # no connection, no transaction held while they are worked
        rest = [c.loan_id for c in found]
    assert [first.loan_id, *rest] == selected and len(selected) == n
