"""Reads behind `monitor ledger` and the report: reservations as rows, their tokens, their report ids."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlmodel import Session

from monitor.store.tables import loan_table, reservation_table, reservation_token_table, truv_order_table

_r = reservation_table.c
_rt = reservation_token_table.c
_o = truv_order_table.c


@dataclass(frozen=True, slots=True)
class ReservationRow:
    id: str
    run_id: str
    loan_id: str
    policy: str
    product: str
    state: str
    outcome: str | None
    reserved_at: datetime
    settled_at: datetime | None
    parent_order_id: str
    refresh_order_id: str | None
    gse: bool
    billable: bool


@dataclass(frozen=True, slots=True)
class ReservationPage:
    """The reservations shown (newest first, at most the limit) and how many matched in all."""

    total: int
    rows: list[ReservationRow]


@dataclass(frozen=True, slots=True)
class ReportIds:
    """The ids a lender submits to DU / LPA for one order."""

    voie: str | None
    voa: str | None


NO_REPORT_IDS = ReportIds(None, None)

_RESERVATION_COLUMNS = (
    _r.id,
    _r.run_id,
    _r.loan_id,
    _r.policy,
    _r.product,
    _r.state,
    _r.outcome,
    _r.reserved_at,
    _r.settled_at,
    _r.parent_order_id,
    _r.refresh_order_id,
    _r.gse,
    _r.billable,
)


def _rows(session: Session, q: Select[*tuple[Any, ...]]) -> list[ReservationRow]:
    return [ReservationRow(*row) for row in session.execute(q.order_by(_r.reserved_at.desc(), _r.id))]


def loan_exists(session: Session, loan_id: str) -> bool:
    return bool(session.execute(select(exists().where(loan_table.c.loan_id == loan_id))).scalar())


def reservations(
    session: Session,
    *,
    limit: int,
    offset: int = 0,
    loan_id: str | None = None,
    since: datetime | None = None,
    token_prefix: str = "",
) -> ReservationPage:
    """Newest first, from the `offset`-th (past the last: the last page); `token_prefix` keeps reservations
    on a token whose hash starts with it."""
    from monitor.store.loan_pages import last_page_start

    q = select(*_RESERVATION_COLUMNS)
    if loan_id:
        q = q.where(_r.loan_id == loan_id)
    if since is not None:
        q = q.where(_r.reserved_at >= since)
    if token_prefix:
        q = q.where(_r.id.in_(select(_rt.reservation_id).where(_rt.token_hash.startswith(token_prefix))))
    total = session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    offset = last_page_start(offset, int(total), limit)
    return ReservationPage(int(total), _rows(session, q.limit(limit).offset(offset)))


def loan_reservations(session: Session, loan_id: str, *, limit: int) -> list[ReservationRow]:
    """The loan's newest reservations first."""
    return _rows(session, select(*_RESERVATION_COLUMNS).where(_r.loan_id == loan_id).limit(limit))


def tokens_of(session: Session, reservation_ids: Iterable[str]) -> dict[str, list[str]]:
    """The token hashes each reservation spent on."""
    out: dict[str, list[str]] = defaultdict(list)
    q = select(_rt.reservation_id, _rt.token_hash).where(_rt.reservation_id.in_(list(reservation_ids)))
    for rid, token in session.execute(q):
        out[rid].append(token)
    return dict(out)


def report_ids(session: Session, order_ids: Iterable[str | None] | None = None) -> dict[str, ReportIds]:
    """The report ids of the given orders (of every order when None)."""
    q = select(_o.id, _o.voie_report_id, _o.voa_report_id)
    if order_ids is not None:
        q = q.where(_o.id.in_([o for o in order_ids if o]))
    return {order_id: ReportIds(voie, voa) for order_id, voie, voa in session.execute(q)}
