"""`monitor loans show`: one loan's story (its facts, connections, what the next pass would do under each
policy it matches, orders, outcomes, findings, pre-closing evidence, audit timeline). Read-only.

The decisions are monitor.reports.loan_decision's; `loans list` is monitor.reports.loan_list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.config import PolicyConfig
from monitor.core.matching import matches
from monitor.core.products import scope_of
from monitor.errors import InputError
from monitor.reports import evidence
from monitor.reports.evidence_shapes import LoanFields, PreClosingRow, loan_fields
from monitor.reports.loan_decision import decide
from monitor.reports.loan_list import loan_list
from monitor.reports.loan_sections import connection, entry, facts, order, outcome
from monitor.reports.loan_shapes import Decision, LoanShow
from monitor.services import Context
from monitor.store import evidence_rows, ledger_rows, loan_rows
from monitor.store.db import read_only, session
from monitor.store.evidence_rows import LoanEvidence
from monitor.store.ledger_rows import ReservationRow
from monitor.store.loan_connection_rows import ConnectionStateRow, LoanConnectionRow, loan_connections
from monitor.store.loan_rows import EventRow, LoanRow, OrderRow, PassReading
from monitor.store.monitoring import findings

__all__ = ["loan_list", "loan_show"]  # `loans list` keeps its old import path: the CLI, demo and tests use it

TIMELINE = 50


@dataclass(frozen=True, slots=True)
class _LoanRead:
    """Everything `loans show` reads of one loan, in one session."""

    loan: LoanRow
    fields: LoanFields
    matched: list[PolicyConfig]
    connections: list[tuple[LoanConnectionRow, ConnectionStateRow | None]]
    reading: PassReading
    chain: list[OrderRow]
    outcomes: list[ReservationRow]
    findings: Sequence[Mapping[str, object]]
    verified: LoanEvidence | None
    timeline: list[EventRow]


def _read(services: Context, loan_id: str, now: datetime) -> _LoanRead:
    with session(read_only(services.engine)) as s:
        loan = loan_rows.loan(s, loan_id)
        if loan is None:
            raise InputError("loan", loan_id, "no such loan (see monitor loans list)")
        attributes = loan_rows.attributes(s, [loan_id]).get(loan_id, {})
        fields = loan_fields(
            gse=loan.gse, status=loan.status, loan_id=loan.loan_id, order_id=loan.order_id, attributes=attributes
        )
        matched = [p for p in services.config.policies if matches(p.match, fields)]
        conns = loan_connections(s, loan_id)
        tokens = sorted({lc.token_hash for lc, _ in conns})
        scopes = [scope_of(p.product) for p in matched]
        return _LoanRead(
            loan=loan,
            fields=fields,
            matched=matched,
            connections=conns,
            reading=loan_rows.pass_reading(s, loan, scopes=scopes, tokens=tokens, limits=services.limits, now=now),
            chain=loan_rows.loan_orders(s, loan_id),
            outcomes=ledger_rows.loan_reservations(s, loan_id, limit=TIMELINE),
            findings=findings(s, loan_id=loan_id),
            verified=evidence_rows.evidence(s, [loan_id])[loan_id] if loan.closing_date else None,
            timeline=loan_rows.loan_events(s, loan_id, limit=TIMELINE),
        )


def loan_show(services: Context, loan_id: str, *, now: datetime) -> LoanShow:
    limits = services.limits
    read = _read(services, loan_id, now)
    decisions = [decide(read.loan, read.reading, p, limits, now) for p in read.matched]
    by_token = {u.token_hash: u for u in read.reading.usage.tokens}
    return {
        "now": now,
        "loan": facts(read.loan, read.fields),
        "policies": [p.name for p in read.matched],
        "connections": [connection(lc, c, by_token[lc.token_hash], limits, now) for lc, c in read.connections],
        "decisions": decisions,
        "next_eligible": _soonest(decisions),
        "orders": [order(o) for o in read.chain],
        "outcomes": [outcome(r) for r in read.outcomes],
        "findings": read.findings,
        "pre_closing": _pre_closing(services, read, now),
        "timeline": [entry(e) for e in read.timeline],
    }


def _soonest(decisions: list[Decision]) -> datetime | None:
    return min((d["next_eligible"] for d in decisions if d["next_eligible"] is not None), default=None)


def _pre_closing(services: Context, read: _LoanRead, now: datetime) -> list[PreClosingRow]:
    """As the report shows it for a loan closing in its period (each policy's window; none: not judged)."""
    closing = read.loan.closing_date
    if closing is None or read.verified is None:
        return []
    policies = services.config.policies
    return evidence.loan_evidence(
        read.fields, closing, read.verified, policies=policies, override=None, today=now.date()
    )
