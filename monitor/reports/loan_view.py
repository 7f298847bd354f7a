"""`monitor loans show` / `monitor loans list`: one loan's story, and one line per loan. Read-only.

The decision per policy mirrors what the next pass does for the loan (monitor.jobs): selection
(active, no hold, nothing in flight, no backoff, stale or order not yet read), then the same choice of
connections (`core.refresh_choice`) on the same reading of the loan (`store.loan_refresh`), and the
same budget decision on the same usage (`store.ledger`), which reserves nothing. The job's
`max_refreshes` is not applied: it depends on the other loans of the pass.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from monitor.config import PolicyConfig
from monitor.core.budget import Decision, Limits, TokenUsage
from monitor.core.calendar import subtract_business_days
from monitor.core.matching import matches
from monitor.core.products import scope_of
from monitor.core.refresh_choice import Choice, Fresh, ScopedConnection, Skip, choose, held_back
from monitor.core.staleness import assess, start_of_day_utc
from monitor.core.states import SkipReason
from monitor.errors import InputError
from monitor.reports import evidence
from monitor.services import Context
from monitor.store import evidence_rows, ledger_rows, loan_pages, loan_rows, usage
from monitor.store.db import read_only, session
from monitor.store.ledger_rows import ReservationRow
from monitor.store.loan_connection_rows import ConnectionStateRow, LoanConnectionRow, loan_connections
from monitor.store.loan_pages import PolicyTerms
from monitor.store.loan_rows import EventRow, LastOutcome, LoanRow, OrderRow, PassReading
from monitor.store.monitoring import findings
from monitor.truv.secrets import short

TIMELINE = 50
_HIDDEN_FIELDS = ("gse", "status", "loan_id", "order_id")


def _fields(loan: LoanRow, attributes: dict[str, str]) -> dict[str, Any]:
    return {"gse": loan.gse, "status": loan.status, "loan_id": loan.loan_id, "order_id": loan.order_id, **attributes}


def _stale_at(data_as_of: datetime | None, loan: LoanRow, policy: PolicyConfig) -> datetime | None:
    """When data dated `data_as_of` turns stale for the policy (None: it already is, or never known)."""
    if data_as_of is None:
        return None
    at = data_as_of + policy.max_age
    if policy.pre_closing_business_days and loan.closing_date is not None:
        start = start_of_day_utc(subtract_business_days(loan.closing_date, policy.pre_closing_business_days))
        if data_as_of < start:
            at = min(at, start)
    return at


def _stale(data_as_of: datetime | None, loan: LoanRow, policy: PolicyConfig, now: datetime, *, read: bool) -> bool:
    if data_as_of is None:
        return read  # never completed once its order is read; unknown (not stale) before
    return assess(
        data_as_of=data_as_of,
        closing_date=loan.closing_date,
        max_age=policy.max_age,
        pre_closing_business_days=policy.pre_closing_business_days,
        now=now,
    ).stale


def _result(
    base: dict[str, Any], decision: str, reason: str, next_eligible: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    return {**base, "decision": decision, "reason": reason, "next_eligible": next_eligible, **extra}


def _selection(
    loan: LoanRow, policy: PolicyConfig, base: dict[str, Any], now: datetime, *, in_flight: bool
) -> dict[str, Any] | None:
    """The pass's selection, in the order it counts (monitor.store.backlog); None: selected."""
    when = base["data_as_of"]
    if loan.status != "active":
        return _result(base, "none", "not_active")
    read = loan.details_fetched_at is not None
    unknown = not read and loan.data_as_of is None
    if not _stale(when, loan, policy, now, read=read) and not unknown:
        return _result(base, "none", "not_stale", _stale_at(when, loan, policy))
    if in_flight:
        return _result(base, "skip", SkipReason.IN_FLIGHT)
    if loan.hold is not None:
        return _result(base, "skip", SkipReason.ON_HOLD, hold=loan.hold, hold_reason=loan.hold_reason)
    if loan.next_attempt_at is not None and loan.next_attempt_at > now:
        return _result(base, "skip", SkipReason.RETRY_BACKOFF, loan.next_attempt_at)
    if not read:
        return _result(base, "read_order", "details_unknown" if unknown else "stale_order_not_read", now)
    return None


def _next_eligible(
    connections: Sequence[ScopedConnection], loan: LoanRow, policy: PolicyConfig, now: datetime
) -> datetime | None:
    """The earliest a connection left out now could be refreshed: when a fresh one turns stale, or a
    backoff ends."""
    times: list[datetime] = []
    for conn in connections:
        if not _stale(conn.data_as_of, loan, policy, now, read=True):
            if (at := _stale_at(conn.data_as_of, loan, policy)) is not None:
                times.append(at)
        elif held_back(conn, now) == SkipReason.RETRY_BACKOFF and conn.retry_after is not None:
            times.append(conn.retry_after)
    return min(times, default=None)


def decide(loan: LoanRow, reading: PassReading, policy: PolicyConfig, limits: Limits, now: datetime) -> dict[str, Any]:
    """What the next pass would do for this loan under this policy, and why."""
    scope = scope_of(policy.product)
    base = {"policy": policy.name, "product": policy.product, "data_as_of": loan.data_date(scope)}
    selected = _selection(loan, policy, base, now, in_flight=reading.in_flight)
    if selected is not None:
        return selected
    refresh = reading.to_refresh.get(scope)
    if refresh is None:
        return _result(base, "skip", SkipReason.DETAILS_UNKNOWN)
    choice = choose(
        refresh,
        product=policy.product,
        max_age=policy.max_age,
        pre_closing_business_days=policy.pre_closing_business_days,
        now=now,
    )
    if isinstance(choice, Skip):
        if choice.reason == SkipReason.PRODUCT_NOT_ALLOWED:
            return _result(base, "skip", choice.reason, order_products=choice.detail.get("order_products"))
        if choice.reason == SkipReason.NO_CONNECTION:
            return _result(base, "skip", choice.reason)
        return _result(base, "skip", choice.reason, _next_eligible(refresh.connections, loan, policy, now))
    if isinstance(choice, Fresh):
        return _result(base, "none", "not_stale", _next_eligible(refresh.connections, loan, policy, now))
    check = reading.usage.decide(
        tokens=choice.tokens, gse=loan.gse, limits=limits, now=now, gse_window_start=loan.gse_window_start
    )
    return _budget(base, choice, check, now)


def _budget(base: dict[str, Any], choice: Choice, check: Decision, now: datetime) -> dict[str, Any]:
    if not check.go:
        return _result(base, "skip", check.skip_reason or SkipReason.BUDGET, check.next_free_at)
    return _result(
        base,
        "refresh",
        "stale",
        now,
        tokens=sorted(short(t) for t in check.allowed_tokens),
        billable=check.billable,
        held=dict(choice.held),
    )


def _detail(text: str | None) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return text


def _connection(
    lc: LoanConnectionRow, conn: ConnectionStateRow | None, use: TokenUsage, limits: Limits, now: datetime
) -> dict[str, Any]:
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


def _loan(loan: LoanRow, fields: dict[str, Any]) -> dict[str, Any]:
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


def _order(o: OrderRow) -> dict[str, Any]:
    return asdict(o)  # every field of the order row is shown


def _outcome(r: ReservationRow) -> dict[str, Any]:
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


def _entry(e: EventRow) -> dict[str, Any]:
    return {"at": e.at, "kind": e.kind, "run_id": e.run_id, "detail": _detail(e.detail)}


def loan_show(services: Context, loan_id: str, *, now: datetime) -> dict[str, Any]:
    limits = services.limits
    with session(read_only(services.engine)) as s:
        loan = loan_rows.loan(s, loan_id)
        if loan is None:
            raise InputError("loan", loan_id, "no such loan (see monitor loans list)")
        fields = _fields(loan, loan_rows.attributes(s, [loan_id]).get(loan_id, {}))
        matched = [p for p in services.config.policies if matches(p.match, fields)]
        conns = loan_connections(s, loan_id)
        tokens = sorted({lc.token_hash for lc, _ in conns})
        scopes = [scope_of(p.product) for p in matched]
        reading = loan_rows.pass_reading(s, loan, scopes=scopes, tokens=tokens, limits=limits, now=now)
        chain = loan_rows.loan_orders(s, loan_id)
        outcomes = ledger_rows.loan_reservations(s, loan_id, limit=TIMELINE)
        found = findings(s, loan_id=loan_id)
        verified = evidence_rows.evidence(s, [loan_id])[loan_id] if loan.closing_date else None
        timeline = loan_rows.loan_events(s, loan_id, limit=TIMELINE)
    decisions = [decide(loan, reading, p, limits, now) for p in matched]
    by_token = {u.token_hash: u for u in reading.usage.tokens}
    return {
        "now": now,
        "loan": _loan(loan, fields),
        "policies": [p.name for p in matched],
        "connections": [_connection(lc, conn, by_token[lc.token_hash], limits, now) for lc, conn in conns],
        "decisions": decisions,
        "next_eligible": min((d["next_eligible"] for d in decisions if d["next_eligible"] is not None), default=None),
        "orders": [_order(o) for o in chain],
        "outcomes": [_outcome(r) for r in outcomes],
        "findings": found,
        # As the report shows it for a loan closing in its period (each policy's window; none: not judged).
        "pre_closing": (
            evidence.loan_evidence(
                fields, loan.closing_date, verified, policies=services.config.policies, override=None, today=now.date()
            )
            if loan.closing_date and verified is not None
            else []
        ),
        "timeline": [_entry(e) for e in timeline],
    }


def _policies(services: Context, policy: str | None) -> list[PolicyConfig]:
    policies = list(services.config.policies)
    if policy is None:
        return policies
    known = [p.name for p in policies]
    if policy not in known:
        raise InputError("--policy", "", f"no policy {policy!r} in jobs.yaml (policies: {', '.join(known) or 'none'})")
    return [p for p in policies if p.name == policy]


def _skip_reason(entry: EventRow | None) -> str | None:
    if entry is None:
        return None
    detail = _detail(entry.detail)
    return detail.get("reason") if isinstance(detail, dict) else None


def _list_row(
    loan: LoanRow, matched: list[PolicyConfig], stale_for: list[str], last: LastOutcome | None, skip: str | None
) -> dict[str, Any]:
    return {
        "loan_id": loan.loan_id,
        "status": loan.status,
        "gse": loan.gse,
        "closing_date": loan.closing_date,
        "data_as_of": loan.data_as_of_employers if loan.details_fetched_at else loan.data_as_of,
        "hold": loan.hold,
        "hold_reason": loan.hold_reason,
        "policies": [p.name for p in matched],
        "stale_for": stale_for,
        "last_outcome": last.outcome if last else None,
        "last_outcome_at": last.at if last else None,
        "last_skip_reason": skip,
    }


def loan_list(
    services: Context,
    *,
    now: datetime,
    stale: bool = False,
    policy: str | None = None,
    reason: str | None = None,
    limit: int = 200,
    offset: int = 0,
    among: Collection[str] | None = None,
) -> dict[str, Any]:
    """One line per loan, by loan_id; `stale` keeps loans stale for a matching policy (by their data date);
    `among`, only these loans (the console's "needs" and "with findings" filters).

    Which loans, and how many, is decided in SQL with the pass's own clauses; only the page is read."""
    policies = _policies(services, policy)
    terms = [
        PolicyTerms(
            match=dict(p.match),
            max_age_cutoff=now - p.max_age,
            pre_closing_days=p.pre_closing_business_days,
            scope=scope_of(p.product),
        )
        for p in policies
    ]
    with session(read_only(services.engine)) as s:
        every_skip = None
        if reason is not None:  # the newest skip of each loan decides; few loans have one
            every_skip = loan_rows.last_skips(s)
            skipped = {loan_id for loan_id, e in every_skip.items() if _skip_reason(e) == reason}
            among = skipped if among is None else skipped & set(among)
        loans, total = loan_pages.page(
            s,
            policies=terms,
            matching=policy is not None,
            stale=stale,
            today=now.date(),
            offset=offset,
            limit=limit,
            among=among,
        )
        ids = [loan.loan_id for loan in loans]
        attributes = loan_rows.attributes(s, ids)
        last_outcome = loan_rows.last_outcomes(s, ids)
        last_skip = every_skip if every_skip is not None else loan_rows.last_skips(s, ids)
    rows = []
    for loan in loans:
        matched = [p for p in policies if matches(p.match, _fields(loan, attributes.get(loan.loan_id, {})))]
        read = loan.details_fetched_at is not None
        stale_for = [p.name for p in matched if _stale(loan.data_date(scope_of(p.product)), loan, p, now, read=read)]
        skip_reason = _skip_reason(last_skip.get(loan.loan_id))
        rows.append(_list_row(loan, matched, stale_for, last_outcome.get(loan.loan_id), skip_reason))
    return {"now": now, "loans": rows, "total": total, "truncated": total > offset + len(rows)}
