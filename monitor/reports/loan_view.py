"""`monitor loans show` / `monitor loans list`: one loan's story, and one line per loan. Read-only.

The decision per policy mirrors what the next pass does for the loan (monitor.jobs.refresh_pass):
selection (active, no hold, nothing in flight, no backoff, stale or order not yet read), then the
order's product, the product's stale connections, and the budget (`ledger.check`, which reserves
nothing). The job's `max_refreshes` is not applied: it depends on the other loans of the pass.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select

from monitor.app import Services
from monitor.config import PolicyConfig
from monitor.core.budget import TOKEN_WINDOW, next_free
from monitor.core.calendar import subtract_business_days
from monitor.core.matching import matches
from monitor.core.products import refresh_product_allowed, scope_of
from monitor.core.staleness import assess, start_of_day_utc
from monitor.errors import InputError
from monitor.store import ledger
from monitor.store.db import read_only, session
from monitor.store.loans import IN_FLIGHT, loan_connections
from monitor.store.monitoring import findings
from monitor.store.tables import (
    Event,
    Loan,
    LoanAttribute,
    Reservation,
    ReservationToken,
    TruvOrder,
)
from monitor.truv.secrets import short

TIMELINE = 50
_SCOPE_DATE = {
    "employer": "data_as_of_employers",
    "account": "data_as_of_accounts",
    "insurance": "data_as_of_insurance",
}
HELD_STATES = ("needs_reauth", "manual_review", "needs_new_order")


def _fields(loan: Loan, attributes: dict[str, str]) -> dict[str, Any]:
    return {"gse": loan.gse, "status": loan.status, "loan_id": loan.loan_id, "order_id": loan.order_id, **attributes}


def _attributes(s: Any, loan_ids: list[str] | None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = defaultdict(dict)
    q = select(LoanAttribute.loan_id, LoanAttribute.key, LoanAttribute.value)
    if loan_ids is not None:
        q = q.where(LoanAttribute.loan_id.in_(loan_ids))  # type: ignore[attr-defined]
    for loan_id, key, value in s.execute(q):
        out[loan_id][key] = value
    return out


def _data_date(loan: Loan, scope: str) -> datetime | None:
    """The date selection judges a loan on: the imported one until its order is read (rule 11)."""
    if loan.details_fetched_at is None:
        return loan.data_as_of
    return getattr(loan, _SCOPE_DATE[scope])


def _stale_at(data_as_of: datetime | None, loan: Loan, policy: PolicyConfig) -> datetime | None:
    """When data dated `data_as_of` turns stale for the policy (None: it already is, or never known)."""
    if data_as_of is None:
        return None
    at = data_as_of + policy.max_age
    if policy.pre_closing_business_days and loan.closing_date is not None:
        start = start_of_day_utc(subtract_business_days(loan.closing_date, policy.pre_closing_business_days))
        if data_as_of < start:
            at = min(at, start)
    return at


def _stale(data_as_of: datetime | None, loan: Loan, policy: PolicyConfig, now: datetime, *, read: bool) -> bool:
    if data_as_of is None:
        return read  # never completed once its order is read; unknown (not stale) before
    return assess(
        data_as_of=data_as_of,
        closing_date=loan.closing_date,
        max_age=policy.max_age,
        pre_closing_business_days=policy.pre_closing_business_days,
        now=now,
    ).stale


def decide(
    s: Any, services: Services, loan: Loan, policy: PolicyConfig, conns: list[Any], now: datetime
) -> dict[str, Any]:
    """What the next pass would do for this loan under this policy, and why."""
    scope = scope_of(policy.product)
    when = _data_date(loan, scope)
    out: dict[str, Any] = {"policy": policy.name, "product": policy.product, "data_as_of": when}

    def result(decision: str, reason: str, next_eligible: datetime | None = None, **extra: Any) -> dict[str, Any]:
        return {**out, "decision": decision, "reason": reason, "next_eligible": next_eligible, **extra}

    if loan.status != "active":
        return result("none", "not_active")
    in_flight = s.execute(
        select(Reservation.id).where(Reservation.loan_id == loan.loan_id, Reservation.state.in_(IN_FLIGHT)).limit(1)  # type: ignore[attr-defined]
    ).first()
    read = loan.details_fetched_at is not None
    stale = _stale(when, loan, policy, now, read=read)
    unknown = not read and loan.data_as_of is None
    if not stale and not unknown:
        return result("none", "not_stale", _stale_at(when, loan, policy))
    # In the order the pass counts them (monitor.store.loans.count_stale).
    if in_flight is not None:
        return result("skip", "in_flight")
    if loan.hold is not None:
        return result("skip", "on_hold", hold=loan.hold, hold_reason=loan.hold_reason)
    if loan.next_attempt_at is not None and loan.next_attempt_at > now:
        return result("skip", "retry_backoff", loan.next_attempt_at)
    if not read:
        return result("read_order", "details_unknown" if unknown else "stale_order_not_read", now)
    original = s.get(TruvOrder, loan.original_order_id or loan.order_id)
    if original is None:
        return result("skip", "details_unknown")
    if not refresh_product_allowed(original.products.split(","), policy.product):
        return result("skip", "product_not_allowed", order_products=original.products)
    tokens: set[str] = set()
    held: dict[str, int] = defaultdict(int)
    in_scope = [(lc, c) for lc, c in conns if lc.kind == scope]
    next_at: list[datetime] = []
    for lc, conn in in_scope:
        if not _stale(lc.data_as_of, loan, policy, now, read=True):
            if (at := _stale_at(lc.data_as_of, loan, policy)) is not None:
                next_at.append(at)
            continue
        state = conn.state if conn else "ok"
        if state in HELD_STATES:
            held[state] += 1
        elif state == "retry_later" and conn and conn.retry_after and conn.retry_after > now:
            held["retry_backoff"] += 1
            next_at.append(conn.retry_after)
        else:
            tokens.add(lc.token_hash)
    if not tokens:
        if held:
            reason = max(held.items(), key=lambda kv: kv[1])[0]
            return result("skip", reason, min(next_at, default=None))
        if not in_scope:
            return result("skip", "no_connection")
        return result("none", "not_stale", min(next_at, default=None))
    check = ledger.check(
        s,
        loan_id=loan.loan_id,
        gse=loan.gse,
        tokens=sorted(tokens),
        limits=services.limits,
        now=now,
        gse_window_start=loan.gse_window_start,
    )
    if not check.go:
        return result("skip", check.skip_reason or "budget", check.next_free_at)
    return result(
        "refresh",
        "stale",
        now,
        tokens=sorted(short(t) for t in check.allowed_tokens),
        billable=check.billable,
        held=dict(held),
    )


def _loan(s: Any, loan_id: str) -> Loan:
    loan = s.get(Loan, loan_id)
    if loan is None:
        raise InputError("loan", loan_id, "no such loan (see monitor loans list)")
    return loan


def _detail(text: str | None) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return text


def loan_show(services: Services, loan_id: str, *, now: datetime) -> dict[str, Any]:
    policies = services.config.policies
    with session(read_only(services.engine)) as s:
        loan = _loan(s, loan_id)
        fields = _fields(loan, _attributes(s, [loan_id])[loan_id])
        matched = [p for p in policies if matches(p.match, fields)]
        conns = loan_connections(s, loan_id)
        rt = ReservationToken.__table__.c
        uses: dict[str, list[datetime]] = defaultdict(list)
        for token, at in s.execute(
            select(rt.token_hash, rt.reserved_at).where(
                rt.token_hash.in_([lc.token_hash for lc, _ in conns]),
                rt.counts.is_(True),
                rt.reserved_at > now - TOKEN_WINDOW,
            )
        ):
            uses[token].append(at)
        limit = services.limits.per_token
        connections = []
        for lc, conn in conns:
            token_uses = uses.get(lc.token_hash, [])
            connections.append(
                {
                    "kind": lc.kind,
                    "suborder_id": lc.suborder_id,
                    "order_id": lc.order_id,
                    "token": short(lc.token_hash),
                    "data_as_of": lc.data_as_of,
                    "state": conn.state if conn else None,
                    "reason": conn.reason if conn else None,
                    "retry_after": conn.retry_after if conn else None,
                    "truv_blocked_until": conn.blocked_until if conn else None,
                    "uses_24h": len(token_uses),
                    "limit": limit,
                    "next_slot_frees": next_free(token_uses, limit, TOKEN_WINDOW, now),
                }
            )
        decisions = [decide(s, services, loan, p, conns, now) for p in matched]
        chain = [
            {
                "id": o.id,
                "initial_order": o.initial_order,
                "refresh_order": o.refresh_order,
                "products": o.products,
                "created_at": o.created_at,
                "voie_report_id": o.voie_report_id,
                "voa_report_id": o.voa_report_id,
            }
            for o in s.execute(
                select(TruvOrder).where(TruvOrder.loan_id == loan_id).order_by(TruvOrder.created_at, TruvOrder.id)  # type: ignore[arg-type]
            ).scalars()
        ]
        outcomes = [
            {
                "id": r.id,
                "policy": r.policy,
                "product": r.product,
                "state": r.state,
                "outcome": r.outcome,
                "reserved_at": r.reserved_at,
                "settled_at": r.settled_at,
                "refresh_order_id": r.refresh_order_id,
            }
            for r in s.execute(
                select(Reservation)
                .where(Reservation.loan_id == loan_id)
                .order_by(Reservation.reserved_at.desc(), Reservation.id)  # type: ignore[attr-defined]
                .limit(TIMELINE)
            ).scalars()
        ]
        found = findings(s, loan_id=loan_id)
        timeline = [
            {"at": e.at, "kind": e.kind, "run_id": e.run_id, "detail": _detail(e.detail)}
            for e in s.execute(
                select(Event)
                .where(Event.loan_id == loan_id)
                .order_by(Event.at.desc(), Event.id.desc())  # type: ignore[attr-defined,union-attr]
                .limit(TIMELINE)
            ).scalars()
        ]
    eligible = [d["next_eligible"] for d in decisions if d["next_eligible"] is not None]
    return {
        "now": now,
        "loan": {
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
            "attributes": {k: v for k, v in fields.items() if k not in ("gse", "status", "loan_id", "order_id")},
        },
        "policies": [p.name for p in matched],
        "connections": connections,
        "decisions": decisions,
        "next_eligible": min(eligible, default=None),
        "orders": chain,
        "outcomes": outcomes,
        "findings": found,
        "timeline": timeline,
    }


def loan_list(
    services: Services,
    *,
    now: datetime,
    stale: bool = False,
    policy: str | None = None,
    reason: str | None = None,
    limit: int = 200,
) -> dict[str, Any]:
    """One line per loan; `stale` keeps loans stale for a matching policy (by their data date)."""
    policies = services.config.policies
    if policy is not None:
        known = [p.name for p in policies]
        if policy not in known:
            raise InputError(
                "--policy", "", f"no policy {policy!r} in jobs.yaml (policies: {', '.join(known) or 'none'})"
            )
        policies = [p for p in policies if p.name == policy]
    with session(read_only(services.engine)) as s:
        loans = list(s.execute(select(Loan).order_by(Loan.loan_id)).scalars())
        attributes = _attributes(s, None)
        last_outcome: dict[str, tuple[datetime, str | None]] = {}
        for loan_id, at, state, outcome in s.execute(
            select(Reservation.loan_id, Reservation.reserved_at, Reservation.state, Reservation.outcome)
        ):
            if loan_id not in last_outcome or at > last_outcome[loan_id][0]:
                last_outcome[loan_id] = (at, outcome or state)
        last_skip: dict[str, tuple[datetime, int, str | None]] = {}
        for loan_id, eid, at, detail in s.execute(
            select(Event.loan_id, Event.id, Event.at, Event.detail).where(
                Event.kind == "skipped", Event.loan_id.is_not(None)
            )  # type: ignore[union-attr]
        ):
            key = (at, eid or 0)
            if loan_id not in last_skip or key > last_skip[loan_id][:2]:
                d = _detail(detail)
                last_skip[loan_id] = (at, eid or 0, d.get("reason") if isinstance(d, dict) else None)
    rows = []
    for loan in loans:
        fields = _fields(loan, attributes.get(loan.loan_id, {}))
        matched = [p for p in policies if matches(p.match, fields)]
        if policy is not None and not matched:
            continue
        stale_for = [
            p.name
            for p in matched
            if _stale(_data_date(loan, scope_of(p.product)), loan, p, now, read=loan.details_fetched_at is not None)
        ]
        if stale and not stale_for:
            continue
        skip = last_skip.get(loan.loan_id)
        skip_reason = skip[2] if skip else None
        if reason is not None and skip_reason != reason:
            continue
        outcome = last_outcome.get(loan.loan_id)
        rows.append(
            {
                "loan_id": loan.loan_id,
                "status": loan.status,
                "gse": loan.gse,
                "closing_date": loan.closing_date,
                "data_as_of": loan.data_as_of_employers if loan.details_fetched_at else loan.data_as_of,
                "hold": loan.hold,
                "hold_reason": loan.hold_reason,
                "policies": [p.name for p in matched],
                "stale_for": stale_for,
                "last_outcome": outcome[1] if outcome else None,
                "last_outcome_at": outcome[0] if outcome else None,
                "last_skip_reason": skip_reason,
            }
        )
    return {"now": now, "loans": rows[:limit], "total": len(rows), "truncated": len(rows) > limit}
