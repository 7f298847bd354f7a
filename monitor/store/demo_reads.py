"""The reads behind `monitor demo`'s tables: tonight's events per loan, and the connections needing the borrower."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from monitor.core.states import ConnectionState
from monitor.store.db import read_only, session
from monitor.store.tables import connection_table, event_table, loan_connection_table


@dataclass(frozen=True, slots=True)
class PassEvent:
    kind: str
    loan_id: str | None
    reservation_id: str | None
    detail: dict[str, object]  # the entry's detail, as read back from its JSON


@dataclass(frozen=True, slots=True)
class ReauthConnection:
    loan_id: str
    token_hash: str
    reason: str | None
    since: datetime | None


def run_events(engine: Engine, run_id: str) -> list[PassEvent]:
    """Every event one pass recorded, in order."""
    e = event_table.c
    with session(read_only(engine)) as s:
        rows = s.execute(
            select(e.kind, e.loan_id, e.reservation_id, e.detail).where(e.run_id == run_id).order_by(e.id)
        ).all()
    return [PassEvent(r.kind, r.loan_id, r.reservation_id, json.loads(r.detail)) for r in rows]


def outcomes_by_reservation(engine: Engine) -> dict[str | None, str | None]:
    """Each reservation's recorded outcome (the latest, when one was recorded twice)."""
    e = event_table.c
    with session(read_only(engine)) as s:
        rows = s.execute(select(e.reservation_id, e.detail).where(e.kind == "outcome").order_by(e.id)).all()
    return {r.reservation_id: json.loads(r.detail).get("outcome") for r in rows}


def connections_needing_reauth(engine: Engine) -> list[ReauthConnection]:
    """Each loan's connections that only the borrower can fix, by loan."""
    lc, c = loan_connection_table.c, connection_table.c
    with session(read_only(engine)) as s:
        rows = s.execute(
            select(lc.loan_id, c.token_hash, c.reason, c.since)
            .join(connection_table, c.token_hash == lc.token_hash)
            .where(c.state == ConnectionState.NEEDS_REAUTH)
            .order_by(lc.loan_id)
        ).all()
    return [ReauthConnection(r.loan_id, r.token_hash, r.reason, r.since) for r in rows]
