"""The ledger's check-and-reserve is atomic: threads racing on one token get exactly the budget."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from monitor.core.budget import Limits, ReservationRequest
from monitor.store import ledger
from monitor.store.db import session
from monitor.store.tables import Loan, Reservation
from tests.helpers import services


def add_loans(svc, ids, now, gse=False):
    with session(svc.engine) as s:
        for loan_id in ids:
            s.add(Loan(loan_id=loan_id, order_id=f"o-{loan_id}", gse=gse, imported_at=now, updated_at=now))


def reserve(svc, loan_id, tokens, now, limits=Limits(), gse=False):
    with session(svc.engine) as s:
        return ledger.reserve(
            s,
            ReservationRequest(
                run_id="r",
                job="j",
                policy="p",
                loan_id=loan_id,
                product="income",
                parent_order_id=f"o-{loan_id}",
                gse=gse,
                suborders={t: [f"e-{t}"] for t in tokens},
            ),
            limits=limits,
            now=now,
        )


def test_racing_reservations_on_one_token_grant_exactly_the_budget(db_url, clock):
    svc = services(db_url, clock, None)
    loans = [f"L{i}" for i in range(16)]
    add_loans(svc, loans, clock.now())
    granted: list[str] = []
    barrier = threading.Barrier(8)

    def worker(chunk):
        barrier.wait()
        for loan_id in chunk:
            if reserve(svc, loan_id, ["tok"], clock.now()).reservation_id:
                granted.append(loan_id)

    threads = [threading.Thread(target=worker, args=(loans[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 3


def test_one_loan_never_has_two_refreshes_in_flight(db_url, clock):
    svc = services(db_url, clock, None)
    add_loans(svc, ["L"], clock.now())
    assert reserve(svc, "L", ["a"], clock.now()).reservation_id
    second = reserve(svc, "L", ["b"], clock.now())
    assert second.reservation_id is None and second.decision.skip_reason == "in_flight"


def test_released_reservation_stops_counting_but_refused_does_not(db_url, clock):
    svc = services(db_url, clock, None)
    add_loans(svc, ["A", "B", "C", "D"], clock.now())
    ids = [reserve(svc, x, ["tok"], clock.now()).reservation_id for x in "ABC"]
    with session(svc.engine) as s:
        ledger.set_state(s, ids[0], state="released", now=clock.now())
        ledger.set_state(s, ids[1], state="refused", now=clock.now())
        ledger.set_state(s, ids[2], state="lost", now=clock.now())
    assert reserve(svc, "D", ["tok"], clock.now()).reservation_id is not None
    assert reserve(svc, "A", ["tok"], clock.now()).decision.skip_reason == "token_budget"


def test_gse_budget_counts_per_loan_over_90_days(db_url, clock):
    svc = services(db_url, clock, None)
    add_loans(svc, ["G"], clock.now(), gse=True)
    for day in range(5):
        now = clock.now() + timedelta(days=day * 3)
        rid = reserve(svc, "G", [f"t{day}"], now, gse=True).reservation_id
        with session(svc.engine) as s:
            ledger.set_state(s, rid, state="completed", now=now)
    sixth = reserve(svc, "G", ["t9"], clock.now() + timedelta(days=20), gse=True)
    assert sixth.decision.skip_reason == "gse_budget"
    assert sixth.decision.next_free_at == clock.now() + timedelta(days=90)
    with session(svc.engine) as s:
        assert len(s.execute(select(Reservation)).scalars().all()) == 5
    assert reserve(svc, "G", ["t9"], clock.now() + timedelta(days=90), gse=True).reservation_id


def _hammer(url: str, worker: int, start_at: float, out) -> None:  # runs in a spawned process
    import time as _time
    from datetime import UTC, datetime

    from monitor.store.db import make_engine

    engine = make_engine(url)
    svc = type("S", (), {"engine": engine})()
    while _time.time() < start_at:
        _time.sleep(0.001)
    granted = 0
    for i in range(10):
        with session(engine) as s:
            s.add(
                Loan(
                    loan_id=f"H{worker}-{i}", order_id="o", imported_at=datetime.now(UTC), updated_at=datetime.now(UTC)
                )
            )
        if reserve(svc, f"H{worker}-{i}", ["hammered"], datetime.now(UTC)).reservation_id:
            granted += 1
    out.put(granted)


def test_eight_processes_hammering_one_token_get_exactly_the_budget(db_url, clock):
    import multiprocessing
    import time as _time

    services(db_url, clock, None)  # migrate
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start_at = _time.time() + 3.0  # a common start line, so the processes really race
    procs = [ctx.Process(target=_hammer, args=(db_url, w, start_at, queue)) for w in range(8)]
    for p in procs:
        p.start()
    granted = sum(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert granted == 3
