"""Income monitoring's records: reports due, the snapshot per connection and refresh, findings."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session

from monitor.core.assets import AssetsSnapshot, assets_from_dict, assets_to_dict
from monitor.core.changes import HANDOFF_SEVERITIES, Finding, Snapshot, snapshot_from_dict, snapshot_to_dict
from monitor.core.readable import json_default
from monitor.core.states import ReportState
from monitor.store.audit_details import FindingDisposed, FindingRecorded
from monitor.store.handoff_payloads import FindingDict, FindingPayload
from monitor.store.outbox import enqueue
from monitor.store.tables import Finding as FindingRow
from monitor.store.tables import (
    LinkSnapshot,
    ReportDue,
    link_snapshot_table,
    loan_connection_table,
    report_due_table,
    truv_order_table,
)

# Products whose refresh is followed by reading the connection's report: income or employment (the
# link's report), assets (the refresh order's VOA report, its accounts of the link).
MONITORED_PRODUCTS = frozenset({"income", "employment", "assets"})
MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    loan_id: str
    token_hash: str
    link_id: str
    product: str
    policy: str
    refresh_order_id: str
    completed_at: datetime


def enqueue_report(
    session: Session,
    *,
    loan_id: str,
    token_hash: str,
    link_id: str | None,
    product: str,
    policy: str,
    refresh_order_id: str,
    completed_at: datetime,
    now: datetime,
) -> None:
    """A connection's refresh completed: its report is read by the next pass (the receiver never calls Truv)."""
    if product not in MONITORED_PRODUCTS or not link_id:
        return
    session.add(
        ReportDue(
            loan_id=loan_id,
            token_hash=token_hash,
            link_id=link_id,
            product=product,
            policy=policy,
            refresh_order_id=refresh_order_id,
            completed_at=completed_at,
            state=ReportState.DUE,
            created_at=now,
        )
    )


def due_reports(session: Session, *, limit: int = 5000) -> list[Due]:
    t = report_due_table.c
    rows = session.execute(
        select(t.id, t.loan_id, t.token_hash, t.link_id, t.product, t.policy, t.refresh_order_id, t.completed_at)
        .where(t.state == ReportState.DUE)
        .order_by(t.id)
        .limit(limit)
    ).all()
    return [Due(*row) for row in rows]


def mark_report(session: Session, due_id: int, *, state: ReportState) -> None:
    t = report_due_table
    session.execute(update(t).where(t.c.id == due_id).values(state=state, attempts=t.c.attempts + 1))


def failed_attempt(session: Session, due_id: int) -> None:
    """A read that failed is tried again by later passes, a few times, then given up on."""
    t = report_due_table
    row = session.execute(select(t.c.attempts).where(t.c.id == due_id)).scalar_one_or_none()
    attempts = (row or 0) + 1
    state = ReportState.FAILED if attempts >= MAX_ATTEMPTS else ReportState.DUE
    session.execute(update(t).where(t.c.id == due_id).values(state=state, attempts=attempts))


@dataclass(frozen=True, slots=True)
class Previous:
    snapshot: Snapshot
    refresh_order_id: str


@dataclass(frozen=True, slots=True)
class PreviousAssets:
    snapshot: AssetsSnapshot
    refresh_order_id: str


def previous_assets(session: Session, *, loan_id: str, token_hash: str, before: datetime) -> PreviousAssets | None:
    """The same account connection's newest assets snapshot of data older than `before`."""
    row = _newest_before(session, loan_id=loan_id, token_hash=token_hash, before=before)
    return PreviousAssets(assets_from_dict(json.loads(row[0])), row[1]) if row else None


def save_assets(session: Session, due: Due, snapshot: AssetsSnapshot, *, now: datetime) -> None:
    session.add(
        LinkSnapshot(
            loan_id=due.loan_id,
            token_hash=due.token_hash,
            refresh_order_id=due.refresh_order_id,
            as_of=snapshot.as_of,
            taken_at=now,
            body=json.dumps(assets_to_dict(snapshot), sort_keys=True),
        )
    )


def voa_report(session: Session, order_id: str) -> tuple[str, str] | None:
    """The refresh order's user and VOA report id, as read from Truv; None when either is unknown."""
    o = truv_order_table.c
    row = session.execute(select(o.user_id, o.voa_report_id).where(o.id == order_id)).first()
    return (row[0], row[1]) if row and row[0] and row[1] else None


def previous_snapshot(session: Session, *, loan_id: str, token_hash: str, before: datetime) -> Previous | None:
    """The same connection's newest snapshot taken of data older than `before`."""
    row = _newest_before(session, loan_id=loan_id, token_hash=token_hash, before=before)
    return Previous(snapshot_from_dict(json.loads(row[0])), row[1]) if row else None


def _newest_before(session: Session, *, loan_id: str, token_hash: str, before: datetime) -> tuple[str, str] | None:
    """The body and refresh order of a connection's newest snapshot of data older than `before`."""
    t = link_snapshot_table.c
    row = session.execute(
        select(t.body, t.refresh_order_id)
        .where(t.loan_id == loan_id, t.token_hash == token_hash, t.as_of < before)
        .order_by(t.as_of.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def already_seen(session: Session, due: Due, as_of: datetime) -> bool:
    """The report holds data already compared (same moment), or newer data that a later completed
    refresh of the same connection will read and be credited with: either way, not this one's."""
    snap = link_snapshot_table.c
    same = session.execute(
        select(snap.id).where(snap.loan_id == due.loan_id, snap.token_hash == due.token_hash, snap.as_of == as_of)
    ).first()
    if same is not None:
        return True
    if as_of <= due.completed_at:
        return False
    t = report_due_table.c
    later = session.execute(
        select(t.id).where(
            t.loan_id == due.loan_id,
            t.token_hash == due.token_hash,
            t.state == ReportState.DUE,
            t.id != due.id,
            t.completed_at > due.completed_at,
            t.completed_at <= as_of,
        )
    ).first()
    return later is not None


def save_snapshot(session: Session, due: Due, snapshot: Snapshot, *, now: datetime) -> None:
    session.add(
        LinkSnapshot(
            loan_id=due.loan_id,
            token_hash=due.token_hash,
            refresh_order_id=due.refresh_order_id,
            as_of=snapshot.as_of,
            taken_at=now,
            body=json.dumps(snapshot_to_dict(snapshot), sort_keys=True),
        )
    )


@dataclass(frozen=True, slots=True)
class Unread:
    """A connection of a loan with no report on record yet: its baseline is read before its first refresh."""

    token_hash: str
    link_id: str
    data_as_of: datetime | None


def without_baseline(session: Session, loan_id: str, tokens: Collection[str]) -> list[Unread]:
    """The employer connections among `tokens` whose report was never kept for this loan (DESIGN.md rule 16)."""
    lc, snap = loan_connection_table.c, link_snapshot_table.c
    kept = select(snap.id).where(snap.loan_id == loan_id, snap.token_hash == lc.token_hash).exists()
    rows = session.execute(
        select(lc.token_hash, lc.link_id, lc.data_as_of)
        .where(
            lc.loan_id == loan_id,
            lc.kind == "employer",
            lc.token_hash.in_(sorted(tokens)),
            lc.link_id.is_not(None),
            ~kept,
        )
        .order_by(lc.token_hash)
    ).all()
    seen: dict[str, Unread] = {}
    for token, link_id, as_of in rows:
        seen.setdefault(token, Unread(token, link_id, as_of))  # one link per token: one read
    return list(seen.values())


def save_baseline(
    session: Session, *, loan_id: str, token_hash: str, order_id: str, snapshot: Snapshot, now: datetime
) -> bool:
    """The original order's verified data as the connection's first snapshot; False when one was kept meanwhile
    (another worker of the pass, sharing the connection)."""
    snap = link_snapshot_table.c
    if session.execute(select(snap.id).where(snap.loan_id == loan_id, snap.token_hash == token_hash)).first():
        return False
    session.add(
        LinkSnapshot(
            loan_id=loan_id,
            token_hash=token_hash,
            refresh_order_id=order_id,
            as_of=snapshot.as_of,
            taken_at=now,
            body=json.dumps(snapshot_to_dict(snapshot), sort_keys=True),
        )
    )
    return True


def _cell(value: str | None) -> str | None:
    return value[:128] if value is not None else None


def record_finding(
    session: Session,
    finding: Finding,
    *,
    loan_id: str,
    order_id: str | None,
    completed_at: datetime | None,
    previous: Previous | PreviousAssets | None,
    now: datetime,
) -> None:
    """One finding: a row, an audit entry, and for high and critical a hand-off to the lender."""
    from monitor.store.ledger import add_event

    row = FindingRow(
        loan_id=loan_id,
        rule=finding.rule.value,
        severity=finding.severity.value,
        confidence=finding.confidence,
        employment_id=_cell(finding.employment_id),
        field=_cell(finding.field),
        before=_cell(finding.before),
        after=_cell(finding.after),
        order_id=order_id,
        completed_at=completed_at,
        previous_order_id=previous.refresh_order_id if previous else None,
        previous_completed_at=previous.snapshot.as_of if previous else None,
        detected_at=now,
        detail=json.dumps(finding.detail, sort_keys=True, default=json_default),
    )
    session.add(row)
    session.flush()
    add_event(
        session,
        at=now,
        kind="finding",
        loan_id=loan_id,
        detail=FindingRecorded(
            rule=row.rule,
            severity=row.severity,
            confidence=row.confidence,
            employment_id=row.employment_id,
            field=row.field,
            order_id=order_id,
            previous_order_id=row.previous_order_id,
        ),
    )
    if finding.severity in HANDOFF_SEVERITIES:
        enqueue(session, kind="finding", key=f"finding:{row.id}", payload=_payload(row), now=now)


# What the lender does next, where a rule says more than "re-evaluate income and employment".
NEXT_STEPS = {
    "rescore_required": "rescore the loan on the verified income (FHA 4000.1)",
    "resubmit_required": "resubmit the loan to DU with the verified income (Fannie Mae B3-2-10)",
    "insufficient_funds": "re-verify the funds to close and reserves before closing",
    "account_closed": "re-verify the borrower's assets: an account is closed or gone",
    "large_deposit": "source the deposit (Fannie Mae B3-4.2-02)",
}


def _payload(row: FindingRow) -> FindingPayload:
    return {
        "type": "loan.finding",
        **finding_dict(row),
        "next_step": NEXT_STEPS.get(
            row.rule, "re-evaluate the borrower's income and employment before relying on them"
        ),
    }


def finding_dict(row: FindingRow) -> FindingDict:
    return {
        "id": row.id,
        "loan_id": row.loan_id,
        "rule": row.rule,
        "severity": row.severity,
        "confidence": row.confidence,
        "employment_id": row.employment_id,
        "field": row.field,
        "before": row.before,
        "after": row.after,
        "order_id": row.order_id,
        "completed_at": row.completed_at,
        "previous_order_id": row.previous_order_id,
        "previous_completed_at": row.previous_completed_at,
        "detected_at": row.detected_at,
        "detail": json.loads(row.detail or "{}"),
        "disposition": row.disposition,
        "disposition_note": row.disposition_note,
        "disposition_by": row.disposition_by,
        "disposition_at": row.disposition_at,
    }


def findings(
    session: Session,
    *,
    since: datetime | None = None,
    loan_id: str | None = None,
    severities: frozenset[str] | None = None,
    limit: int | None = None,
) -> list[FindingDict]:
    q = select(FindingRow).order_by(FindingRow.detected_at, FindingRow.id)  # type: ignore[arg-type]
    if since is not None:
        q = q.where(FindingRow.detected_at >= since)  # type: ignore[arg-type]
    if loan_id is not None:
        q = q.where(FindingRow.loan_id == loan_id)  # type: ignore[arg-type]
    if severities is not None:
        q = q.where(FindingRow.severity.in_(sorted(severities)))  # type: ignore[attr-defined]
    if limit is not None:
        q = q.limit(limit)
    return [finding_dict(r) for r in session.execute(q).scalars()]


# What each action moves a finding to, and from which dispositions it may.
ACTIONS = {"ack": ("acknowledged", ("open",)), "resolve": ("resolved", ("open", "acknowledged"))}


class DispositionRefused(ValueError):
    """The finding is not there, or its disposition does not allow the action."""


def dispose(session: Session, finding_id: int, *, action: str, note: str, by: str, now: datetime) -> FindingDict:
    """Acknowledge or resolve one finding with a note; audited with who and when. The row is locked, so two
    operators acting at once cannot both move it."""
    from monitor.store.ledger import add_event

    target, allowed = ACTIONS[action]
    row = session.execute(
        select(FindingRow).where(FindingRow.id == finding_id).with_for_update()  # type: ignore[arg-type]
    ).scalar_one_or_none()
    if row is None:
        raise DispositionRefused("no such finding; `monitor changes` lists them with their ids")
    if row.disposition not in allowed:
        raise DispositionRefused(f"already {row.disposition}; expected a finding that is {' or '.join(allowed)}")
    before = row.disposition
    row.disposition, row.disposition_note, row.disposition_by, row.disposition_at = target, note, by, now
    session.add(row)
    session.flush()
    add_event(
        session,
        at=now,
        kind=f"finding_{target}",
        loan_id=row.loan_id,
        detail=FindingDisposed(
            finding_id=row.id, rule=row.rule, severity=row.severity, before=before, note=note, by=by
        ),
    )
    return finding_dict(row)
