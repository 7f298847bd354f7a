"""What pre-closing evidence reads of a set of loans: each verification attempt and each finding.

A few set-based queries whatever the number of loans; the judging is `monitor.core.preclosing`'s.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from monitor.core.preclosing import PRODUCTS, FindingState, Verification
from monitor.core.states import ReservationState
from monitor.store.tables import finding_table, link_snapshot_table, loan_table, reservation_table, truv_order_table

_CHUNK = 500  # ids per IN (...): far below SQLite's and Postgres' parameter limits
_ENDED = (ReservationState.COMPLETED.value, ReservationState.FAILED.value)


@dataclass(slots=True)
class LoanEvidence:
    verifications: list[Verification] = field(default_factory=list)
    findings: list[FindingState] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Order:
    products: tuple[str, ...]
    voie: str | None
    voa: str | None

    def report_id(self, product: str) -> str | None:
        return self.voa if product in PRODUCTS["voa"] else self.voie


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield list(ids[i : i + _CHUNK])


def evidence(session: Session, loan_ids: Sequence[str]) -> dict[str, LoanEvidence]:
    """Per loan: its original order's verification (when its data date is known) and every refresh that
    completed or failed, oldest first; and its findings with their disposition."""
    out: dict[str, LoanEvidence] = {loan_id: LoanEvidence() for loan_id in loan_ids}
    for ids in _chunks(list(out)):
        _read(session, ids, out)
    return out


@dataclass(frozen=True, slots=True)
class _Reports:
    """What the kept reports say of each order: when their data was collected, and the employers named."""

    as_of: dict[str, datetime]
    employers: dict[str, set[str]]

    def names(self, order_id: str) -> tuple[str, ...]:
        return tuple(sorted(self.employers.get(order_id, ())))


def _read(session: Session, ids: list[str], out: dict[str, LoanEvidence]) -> None:
    orders = _orders(session, ids)
    reports = _reports(session, ids)
    product_of: dict[str, str] = {}  # per order: the product it verified, which says whose findings are whose
    for loan_id, original in _original_verifications(session, ids, orders, reports):
        product_of.setdefault(original.order_id, original.product)
        out[loan_id].verifications.append(original)
    for loan_id, attempt in _attempts(session, ids, orders, reports):
        product_of[attempt.order_id] = attempt.product
        out[loan_id].verifications.append(attempt)
    for loan_id, finding in _findings(session, ids, product_of):
        out[loan_id].findings.append(finding)


def _orders(session: Session, ids: list[str]) -> dict[str, _Order]:
    o = truv_order_table.c
    return {
        row.id: _Order(tuple(p for p in (row.products or "").split(",") if p), row.voie_report_id, row.voa_report_id)
        for row in session.execute(
            select(o.id, o.products, o.voie_report_id, o.voa_report_id).where(o.loan_id.in_(ids))
        )
    }


def _original_verifications(
    session: Session, ids: list[str], orders: dict[str, _Order], reports: _Reports
) -> Iterator[tuple[str, Verification]]:
    """Each loan's original order, one verification per product it verified, dated by its data."""
    for loan_id, original, first_completion in _originals(session, ids):
        order = orders.get(original)
        data_at = reports.as_of.get(original) or first_completion
        if order is None or data_at is None:
            continue
        for product in order.products:
            yield (
                loan_id,
                Verification(
                    order_id=original,
                    product=product,
                    succeeded=True,
                    data_at=data_at,
                    outcome="original order",
                    report_id=order.report_id(product),
                    employers=reports.names(original),
                ),
            )


def _reports(session: Session, ids: list[str]) -> _Reports:
    sn = link_snapshot_table.c
    found = _Reports({}, defaultdict(set))
    for order_id, at, body in session.execute(
        select(sn.refresh_order_id, sn.as_of, sn.body).where(sn.loan_id.in_(ids))
    ):
        found.as_of[order_id] = min(at, found.as_of.get(order_id, at))
        found.employers[order_id].update(_companies(body))
    return found


def _attempts(
    session: Session, ids: list[str], orders: dict[str, _Order], reports: _Reports
) -> Iterator[tuple[str, Verification]]:
    """Every refresh that completed or failed, oldest first: a success dated by its data, a failure by its end."""
    r = reservation_table.c
    q = select(r.loan_id, r.product, r.state, r.refresh_order_id, r.settled_at, r.outcome).where(
        r.loan_id.in_(ids), r.state.in_(_ENDED), r.settled_at.is_not(None), r.refresh_order_id.is_not(None)
    )
    for loan_id, product, state, order_id, settled_at, outcome in session.execute(q.order_by(r.settled_at)):
        succeeded = state == ReservationState.COMPLETED.value
        order = orders.get(order_id)
        yield (
            loan_id,
            Verification(
                order_id=order_id,
                product=product,
                succeeded=succeeded,
                data_at=(reports.as_of.get(order_id) or settled_at) if succeeded else settled_at,
                outcome=outcome,
                report_id=order.report_id(product) if order and succeeded else None,
                employers=reports.names(order_id),
            ),
        )


def _findings(session: Session, ids: list[str], product_of: dict[str, str]) -> Iterator[tuple[str, FindingState]]:
    f = finding_table.c
    q = select(
        f.id,
        f.loan_id,
        f.rule,
        f.severity,
        f.order_id,
        f.completed_at,
        f.detected_at,
        f.disposition,
        f.disposition_note,
        f.disposition_by,
        f.disposition_at,
    ).where(f.loan_id.in_(ids))
    for row in session.execute(q.order_by(f.detected_at, f.id)):
        yield (
            row.loan_id,
            FindingState(
                id=row.id,
                rule=row.rule,
                severity=row.severity,
                product=product_of.get(row.order_id or ""),
                data_at=row.completed_at or row.detected_at,
                disposition=row.disposition,
                note=row.disposition_note,
                by=row.disposition_by,
                at=row.disposition_at,
            ),
        )


def _originals(session: Session, ids: list[str]) -> list[tuple[str, str, datetime | None]]:
    """Per loan: its original order (the origin Truv named, else the imported id) and that order's first
    completion, recorded when the order was read."""
    lt = loan_table.c
    q = select(lt.loan_id, lt.original_order_id, lt.order_id, lt.gse_window_start).where(lt.loan_id.in_(ids))
    return [(loan_id, original or imported, first) for loan_id, original, imported, first in session.execute(q)]


def _companies(body: str) -> set[str]:
    """The employers a stored report names (kept for comparison, see monitor.store.monitoring)."""
    try:
        data = json.loads(body)
    except ValueError:
        return set()
    return {str(e["company"]) for e in data.get("employments") or () if isinstance(e, dict) and e.get("company")}
