"""`monitor ledger` and `loans show` judge a token as the pass does (issue 12: one window rule).

A token Truv blocked for its own per-token limit (`blocked_until`) is not free, even with uses left
in its 24 h budget: the views say so, and the pass skips the loan until the block ends.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from monitor.core.budget import ReservationRequest
from monitor.jobs.refresh_pass import JobPass
from monitor.reports.ledger_view import ledger_view
from monitor.reports.loan_view import loan_show
from monitor.sandbox import Sandbox
from monitor.store import ledger
from monitor.store.db import session
from monitor.store.tables import Event, Reservation
from monitor.truv.secrets import short, token_hash
from tests.helpers import import_csv, seed_loans, services, write_csv

TOKEN = "tok-blocked"


def test_a_token_truv_blocked_is_not_free_in_the_ledger_nor_for_the_pass(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=5, clock=clock, completion_delay=5.0)
    svc = services(db_url, clock, sandbox)
    rows = seed_loans(sandbox, [{"loan_id": "L-B", "employers": [("ok", TOKEN)]}], tmp_path, clock)
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))
    hashed = token_hash(TOKEN)
    now = clock.now()
    until = now + timedelta(hours=12)
    with session(svc.engine) as s:
        # One use of the token's three in the window (made for another loan), then Truv's refusal.
        made = ledger.reserve(
            s,
            ReservationRequest(
                run_id="elsewhere",
                job="nightly",
                policy="income-30d",
                loan_id="L-ELSEWHERE",
                product="income",
                parent_order_id="o-elsewhere",
                gse=False,
                suborders={hashed: ["e-1"]},
            ),
            limits=svc.limits,
            now=now - timedelta(hours=1),
        )
        assert made.reservation_id is not None
        ledger.set_state(s, made.reservation_id, state="completed", now=now)
        ledger.block_tokens(s, [hashed], until=until, now=now)

    view = ledger_view(svc, loan_id=None, limit=50, now=now)
    [tok] = [t for t in view["tokens"] if t["token"] == short(hashed)]
    assert tok["used_24h"] == 1 < tok["limit"]
    assert tok["exhausted"] is True and tok["next_slot_frees"] == until == tok["truv_blocked_until"]
    assert [t["token"] for t in ledger_view(svc, loan_id=None, limit=50, now=now, exhausted=True)["tokens"]] == [
        short(hashed)
    ]

    JobPass(svc, svc.config.job("nightly"), wait_seconds=30.0).run()  # reads the order, then its budget
    with session(svc.engine) as s:
        reserved = s.execute(select(Reservation.id).where(Reservation.loan_id == "L-B")).all()
        skipped = [
            json.loads(d)
            for d in s.execute(select(Event.detail).where(Event.kind == "skipped", Event.loan_id == "L-B")).scalars()
        ]
    assert reserved == [] and sandbox.refreshes() == []
    assert [d["reason"] for d in skipped] == ["token_budget"]

    shown = loan_show(svc, "L-B", now=now)
    [decision] = shown["decisions"]
    assert (decision["decision"], decision["reason"], decision["next_eligible"]) == ("skip", "token_budget", until)
    [conn] = shown["connections"]
    assert conn["uses_24h"] == 1 and conn["next_slot_frees"] == until

    # Once the block ends the token is free again, in the view and for the pass.
    clock.set(until + timedelta(minutes=1))
    [tok] = ledger_view(svc, loan_id=None, limit=50, now=clock.now())["tokens"]
    assert (tok["used_24h"], tok["exhausted"], tok["truv_blocked_until"]) == (1, False, None)
    JobPass(svc, svc.config.job("nightly"), wait_seconds=30.0).run()
    assert len(sandbox.refreshes()) == 1
