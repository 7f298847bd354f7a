"""`loans show`'s sections, one row each: the loan's facts, a connection with its budget, an order, an
outcome, an audit entry."""

from __future__ import annotations

import json
from datetime import datetime

from monitor.core.budget import Limits, TokenUsage
from monitor.reports.evidence_shapes import LoanFields
from monitor.reports.loan_shapes import ConnectionView, LoanFacts, OrderView, OutcomeView, TimelineEntry
from monitor.store import usage
from monitor.store.ledger_rows import ReservationRow
from monitor.store.loan_connection_rows import ConnectionStateRow, LoanConnectionRow
from monitor.store.loan_rows import EventRow, LoanRow, OrderRow
from monitor.truv.secrets import short

_HIDDEN_FIELDS = ("gse", "status", "loan_id", "order_id")  # the loan's own columns, shown as such


def detail(text: str | None) -> object:
    """An audit entry's detail: its JSON, else its text as written."""
    try:
        read: object = json.loads(text or "{}")
    except ValueError:
        return text
    return read


def connection(
    lc: LoanConnectionRow, conn: ConnectionStateRow | None, use: TokenUsage, limits: Limits, now: datetime
) -> ConnectionView:
    return {
        "kind": lc.kind,
        "suborder_id": lc.suborder_id,
        "order_id": lc.order_id,
        "token": short(lc.token_hash),
        "data_as_of": lc.data_as_of,
        "state": conn.state if conn else None,
        "reason": conn.reason if conn else None,
        "retry_after": conn.retry_after if conn else None,
        "truv_blocked_until": conn.blocked_until if conn else None,
        "uses_24h": len(use.uses),
        "limit": limits.per_token,
        # When the pass may spend on it again: its 24 h budget and any Truv block, as the pass judges.
        "next_slot_frees": usage.token_frees_at(use, limits, now),
    }


def facts(loan: LoanRow, fields: LoanFields) -> LoanFacts:
    return {
        "loan_id": loan.loan_id,
        "gse": loan.gse,
        "status": loan.status,
        "closing_date": loan.closing_date,
        "order_id": loan.order_id,
        "original_order_id": loan.original_order_id,
        "data_as_of": loan.data_as_of,
        "details_fetched_at": loan.details_fetched_at,
        "gse_window_start": loan.gse_window_start,
        "hold": loan.hold,
        "hold_reason": loan.hold_reason,
        "hold_since": loan.hold_since,
        "next_attempt_at": loan.next_attempt_at,
        "attention": loan.attention,
        "attributes": {k: v for k, v in fields.items() if k not in _HIDDEN_FIELDS},
    }


def order(o: OrderRow) -> OrderView:
    """Every field of the order row."""
    return {
        "id": o.id,
        "initial_order": o.initial_order,
        "refresh_order": o.refresh_order,
        "products": o.products,
        "created_at": o.created_at,
        "voie_report_id": o.voie_report_id,
        "voa_report_id": o.voa_report_id,
    }


def outcome(r: ReservationRow) -> OutcomeView:
    return {
        "id": r.id,
        "policy": r.policy,
        "product": r.product,
        "state": r.state,
        "outcome": r.outcome,
        "reserved_at": r.reserved_at,
        "settled_at": r.settled_at,
        "refresh_order_id": r.refresh_order_id,
    }


def entry(e: EventRow) -> TimelineEntry:
    return {"at": e.at, "kind": e.kind, "run_id": e.run_id, "detail": detail(e.detail)}
