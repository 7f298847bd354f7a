"""Migration 0012: what the wrong reading of Truv's order left in a database is undone on upgrade."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from alembic.config import Config
from sqlalchemy import select

from monitor.store.db import MIGRATIONS, make_engine, session, upgrade
from monitor.store.tables import Loan, Reservation, ReservationToken
from tests.conftest import T0


def test_expired_holds_are_released_and_outright_refusals_stop_counting(db_url):
    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:  # the schema as the previous release left it
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011")
        conn.commit()
    with session(engine) as s:
        for loan_id, reason in [("EXP", "order_expired"), ("FIN", "order_finalized")]:
            s.add(
                Loan(
                    loan_id=loan_id,
                    order_id=f"o-{loan_id}",
                    hold="needs_new_order",
                    hold_reason=reason,
                    hold_since=T0,
                    details_fetched_at=T0,
                    imported_at=T0,
                    updated_at=T0,
                )
            )
        for rid, state, outcome in [
            ("r-refused", "refused", "truv_refused"),
            ("r-limit", "refused", "truv_refresh_limit"),
            ("r-429", "refused", "throttled"),
            ("r-done", "completed", "completed"),
        ]:
            s.add(
                Reservation(
                    id=rid,
                    run_id="run",
                    job="nightly",
                    policy="p",
                    loan_id="EXP",
                    product="income",
                    parent_order_id="o-EXP",
                    gse=True,
                    state=state,
                    reserved_at=T0 - timedelta(hours=1),
                    outcome=outcome,
                )
            )
            s.flush()
            s.add(ReservationToken(reservation_id=rid, token_hash="t", reserved_at=T0, counts=True))
    upgrade(engine)
    with session(engine) as s:
        loans = {x.loan_id: x for x in s.execute(select(Loan)).scalars()}
        states = {r[0]: r[1] for r in s.execute(select(Reservation.id, Reservation.state))}
        counts = {r[0]: r[1] for r in s.execute(select(ReservationToken.reservation_id, ReservationToken.counts))}
    exp = loans["EXP"]
    assert (exp.hold, exp.hold_reason, exp.details_fetched_at) == (None, None, None)
    assert (loans["FIN"].hold, loans["FIN"].hold_reason) == ("needs_new_order", "order_finalized")
    assert states == {"r-refused": "declined", "r-limit": "refused", "r-429": "refused", "r-done": "completed"}
    assert counts == {"r-refused": False, "r-limit": True, "r-429": True, "r-done": True}
