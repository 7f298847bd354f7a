"""The append-only audit trail: every decision and event, hash-chained in one order.

With MONITOR_AUDIT_KEY, the chain is keyed and sealed (see monitor.core.audit). The audit_head table
holds two rows: HEAD_ROW, the newest entry (seq, hash), locked by every append; and, once the key has
been adopted (`seal`), SEAL_ROW: seq is the first keyed entry, hash the HMAC over the head. No column
was added: a seal row keeps older databases and the schema as they are.
"""

from __future__ import annotations

import contextvars
import json
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypedDict

import structlog
from sqlalchemy import delete, func, or_, select
from sqlmodel import Session

from monitor import __version__
from monitor.config import secret_from_env
from monitor.core.audit import GENESIS, Walk, chain_hash, keyed_hash, same, seal_head, sign_checkpoint, walk
from monitor.core.readable import json_default
from monitor.core.states import ReportState
from monitor.errors import InputError, MonitorError
from monitor.store.audit_details import AuditDetail, AuditSealed, MonitoringPurged, Purged
from monitor.store.audit_results import CheckpointReport, Purge, Sealed, Verification
from monitor.store.db import rows_affected, upsert_insert
from monitor.store.tables import (
    AuditCheckpoint,
    AuditHead,
    Event,
    audit_checkpoint_table,
    audit_head_table,
    event_table,
    finding_table,
    link_snapshot_table,
    loan_table,
    report_due_table,
    webhook_event_table,
)

log = structlog.get_logger("monitor.audit")
KEY_ENV = "MONITOR_AUDIT_KEY"
KEY_FILE_ENV = f"{KEY_ENV}_FILE"
HEAD_ROW, SEAL_ROW = 1, 2

# Who is acting: the CLI sets it per command (an operator, the daemon, the receiver).
ACTOR: contextvars.ContextVar[str] = contextvars.ContextVar(
    "monitor_actor", default=f"monitor@{socket.gethostname()}:{os.getpid()}"
)
_warned: set[str] = set()


def audit_key() -> str | None:
    """MONITOR_AUDIT_KEY (else the file MONITOR_AUDIT_KEY_FILE names), read where entries are written:
    every process that appends needs the same one. An unreadable file is a ConfigError (exit 2)."""
    return secret_from_env(KEY_ENV)


class AuditKeyRequired(InputError):
    """The chain is keyed and this process has no key: writing would break it for good (exit 2)."""

    def __init__(self, keyed_from: int) -> None:
        super().__init__(
            "environment",
            KEY_ENV,
            f"not set, and the audit trail is keyed from entry {keyed_from}: an entry written without the key "
            f"would break it; set {KEY_ENV} or {KEY_FILE_ENV} (the key `audit verify --seal` adopted). "
            "Nothing was changed",
        )


def require_key(session: Session) -> None:
    """Before a command that writes audit entries changes anything: refuse when the chain is keyed
    (sealed) and this process has no key. A trail never keyed takes plain entries as before."""
    _, sealed = _chain_state(session)
    if sealed is not None and audit_key() is None:
        raise AuditKeyRequired(sealed.seq)


def _warn_once(event: str, *, hint: str) -> None:
    # Once per process: a daemon writing thousands of entries would otherwise repeat it thousands of times.
    if event not in _warned:
        _warned.add(event)
        log.warning(event, hint=hint)


def append(
    session: Session,
    *,
    at: datetime,
    kind: str,
    run_id: str | None = None,
    loan_id: str | None = None,
    reservation_id: str | None = None,
    purpose: str | None = None,
    detail: AuditDetail | None = None,
) -> None:
    """Chain one entry. The head row is locked until the caller commits, so entries chain in one order
    across threads and instances; it is always the last lock a transaction takes (no deadlocks)."""
    _append(
        session,
        key=audit_key(),
        at=at,
        kind=kind,
        run_id=run_id,
        loan_id=loan_id,
        reservation_id=reservation_id,
        purpose=purpose,
        detail=detail,
    )


class _Entry(TypedDict):
    """An audit entry's chained fields, as hashed and stored."""

    seq: int
    at: datetime
    kind: str
    run_id: str | None
    loan_id: str | None
    reservation_id: str | None
    actor: str
    purpose: str | None
    version: str
    detail: str  # the kind's AuditDetail as JSON, keys sorted


def _append(
    session: Session,
    *,
    key: str | None,
    at: datetime,
    kind: str,
    run_id: str | None = None,
    loan_id: str | None = None,
    reservation_id: str | None = None,
    purpose: str | None = None,
    detail: AuditDetail | None = None,
) -> None:
    head, seal = _lock_head(session)
    entry: _Entry = {
        "seq": head.seq + 1,
        "at": at,
        "kind": kind,
        "run_id": run_id,
        "loan_id": loan_id,
        "reservation_id": reservation_id,
        "actor": ACTOR.get(),
        "purpose": purpose,
        "version": __version__,
        "detail": json.dumps(detail or {}, default=json_default, sort_keys=True),
    }
    if seal is not None and key is None:
        # A process that passed `require_key` before the chain was sealed: refuse (the caller's
        # transaction rolls back) rather than write the plain entry that would break the chain for good.
        raise AuditKeyRequired(seal.seq)
    if seal is not None and key is not None:
        digest = keyed_hash(key, head.hash, entry)
        _move_seal(seal, key=key, head=head, seq=entry["seq"], digest=digest)
    else:
        digest = chain_hash(head.hash, entry)
        _warn_unkeyed(key=key)
    session.add(Event(**entry, prev_hash=head.hash, hash=digest))
    head.seq, head.hash = entry["seq"], digest
    session.add(head)


def _lock_head(session: Session) -> tuple[AuditHead, AuditHead | None]:
    """The head and the seal, locked (in id order, by one statement) until the caller commits."""
    insert = partial(upsert_insert, session)
    session.execute(
        insert(audit_head_table).values(id=HEAD_ROW, seq=0, hash=GENESIS).on_conflict_do_nothing(index_elements=["id"])
    )
    head_id = audit_head_table.c.id
    rows = session.execute(
        select(AuditHead)
        .where(head_id.in_((HEAD_ROW, SEAL_ROW)))
        .order_by(head_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalars()
    by_id = {row.id: row for row in rows}
    return by_id[HEAD_ROW], by_id.get(SEAL_ROW)


def _move_seal(seal: AuditHead, *, key: str, head: AuditHead, seq: int, digest: str) -> None:
    """Carry the seal to the new entry, but only from a head it still covers. A seal that no longer
    matches (a writer without the key, another key, a head rolled back) is evidence: it stays for
    `audit verify` to report, and is never re-signed over whatever the head now says."""
    if same(seal.hash, seal_head(key, seq=head.seq, head_hash=head.hash, keyed_from=seal.seq)):
        seal.hash = seal_head(key, seq=seq, head_hash=digest, keyed_from=seal.seq)
    else:
        _warn_once("audit_seal_mismatch", hint="the head no longer matches its seal; run `monitor audit verify`")


def _warn_unkeyed(*, key: str | None) -> None:
    if key is not None:
        _warn_once(
            "audit_chain_not_sealed",
            hint=f"{KEY_ENV} is set but the chain is not keyed: run `monitor audit verify`",
        )


def _rows(session: Session, after_seq: int, until_seq: int) -> Iterator[Mapping[str, Any]]:
    t = event_table.c
    columns = [
        t.seq,
        t.at,
        t.kind,
        t.run_id,
        t.loan_id,
        t.reservation_id,
        t.actor,
        t.purpose,
        t.version,
        t.detail,
        t.prev_hash,
        t.hash,
    ]
    last = after_seq
    while True:
        query = select(*columns).where(t.seq > last, t.seq <= until_seq).order_by(t.seq).limit(5000)
        batch = [row._asdict() for row in session.execute(query)]
        if not batch:
            return
        yield from batch
        last = batch[-1]["seq"]


def _chain_state(session: Session) -> tuple[AuditHead | None, AuditHead | None]:
    """The head and the seal, read in one statement: an append changes both in one transaction."""
    rows = session.execute(select(AuditHead).execution_options(populate_existing=True)).scalars().all()
    by_id = {row.id: row for row in rows}
    return by_id.get(HEAD_ROW), by_id.get(SEAL_ROW)


def _newest_checkpoint(session: Session) -> AuditCheckpoint | None:
    query = select(AuditCheckpoint).order_by(audit_checkpoint_table.c.id.desc()).limit(1)
    return session.execute(query).scalars().first()


def _checkpoint_ok(checkpoint: AuditCheckpoint, key: str) -> bool:
    expected = sign_checkpoint(
        key,
        through_seq=checkpoint.through_seq,
        through_hash=checkpoint.through_hash,
        removed_before=checkpoint.removed_before.isoformat(),
        removed_count=checkpoint.removed_count,
    )
    return same(expected, checkpoint.signature)


def verify(session: Session, *, key: str | None) -> Verification:
    """Walk the chain from the newest checkpoint (or the start) to the head; report the first problem.

    `ok` is True only when everything that can be checked was checked and holds. `reason` names the
    problem: missing, relinked, edited, unkeyed (a plain hash where the chain is keyed), truncated,
    head, checkpoint, unsealed (a key was given, the chain carries no seal), seal, wrong_key, and
    key_required (the trail is keyed and no key was given: nothing failed, nothing could be confirmed).
    """
    checkpoint = _newest_checkpoint(session)
    head, seal = _chain_state(session)
    start_seq, start_hash = (checkpoint.through_seq, checkpoint.through_hash) if checkpoint else (0, GENESIS)
    head_seq, head_hash = (head.seq, head.hash) if head else (start_seq, start_hash)
    keyed_from = seal.seq if seal else None
    walked = walk(
        _rows(session, start_seq, head_seq), start_seq=start_seq, start_hash=start_hash, keyed_from=keyed_from, key=key
    )
    beyond = session.execute(select(func.max(event_table.c.seq))).scalar() or 0
    head_now, _ = _chain_state(session)  # read after `beyond`: an entry committed since moved the head too
    facts = _Facts(
        key=key,
        walked=walked,
        head_seq=head_seq,
        head_hash=head_hash,
        head_now=head_now.seq if head_now else 0,
        beyond=beyond,
        checkpoint_ok=_checkpoint_verdict(checkpoint, key),
        has_checkpoint=checkpoint is not None,
        seal=seal,
    )
    reason, first_broken_seq, message = facts.first_problem() or (None, None, None)
    return {
        "ok": reason is None,
        "reason": reason,
        "first_broken_seq": first_broken_seq,
        "message": message,
        "keyed": seal is not None,
        "keyed_from": keyed_from,
        "key_given": key is not None,
        "entries_checked": walked.count,
        "head_seq": head_seq,
        "head_hash": head_hash,
        "checkpoint": None if checkpoint is None else _checkpoint_report(checkpoint, facts.checkpoint_ok is True),
    }


def _checkpoint_verdict(checkpoint: AuditCheckpoint | None, key: str | None) -> bool | None:
    """Whether the purge checkpoint's signature holds; None with no checkpoint, or no key to check it with."""
    if key and checkpoint:
        return _checkpoint_ok(checkpoint, key)
    return None


def _checkpoint_report(checkpoint: AuditCheckpoint, signature_ok: bool) -> CheckpointReport:
    return {
        "through_seq": checkpoint.through_seq,
        "removed_before": checkpoint.removed_before,
        "removed_count": checkpoint.removed_count,
        "signature_ok": signature_ok,
    }


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a verification saw; `first_problem` decides what, if anything, is wrong, in order."""

    key: str | None
    walked: Walk
    head_seq: int
    head_hash: str
    head_now: int  # the head read again after the newest seq: entries past it were not appended normally
    beyond: int
    checkpoint_ok: bool | None  # None: no checkpoint, or no key to check it with
    has_checkpoint: bool
    seal: AuditHead | None

    def seal_ok(self) -> bool:
        if self.seal is None or self.key is None:
            return False
        expected = seal_head(self.key, seq=self.head_seq, head_hash=self.head_hash, keyed_from=self.seal.seq)
        return same(expected, self.seal.hash)

    def first_problem(self) -> tuple[str, int | None, str] | None:
        for check in (self._wrong_key, self._break, self._head, self._keyed):
            problem = check()
            if problem is not None:
                return problem
        return None

    def _wrong_key(self) -> tuple[str, int | None, str] | None:
        # With the right key something keyed verifies even after tampering (the seal, the checkpoint or
        # an entry); with another key nothing does. Only the seal to go by (every keyed entry gone) is
        # not enough to tell: that is a changed head, reported as such below.
        tested = self._keyed_entry_failed() or self.has_checkpoint
        if self.key is None or not tested or self.seal_ok() or self.checkpoint_ok or self.walked.keyed_verified:
            return None
        return (
            "wrong_key",
            None,
            f"nothing keyed in the trail verifies with this {KEY_ENV} (seal, checkpoint, entries): it is not "
            "the key the trail was written with, or all of them were forged",
        )

    def _keyed_entry_failed(self) -> bool:
        broken = self.walked.broken
        if self.seal is None or broken is None:
            return False
        return broken.reason == "edited" and (broken.seq or 0) >= self.seal.seq

    def _break(self) -> tuple[str, int | None, str] | None:
        broken = self.walked.broken
        if broken is None:
            return None
        messages = {
            "missing": f"entry {broken.seq} is missing (deleted)",
            "relinked": f"entry {broken.seq} does not name the previous entry's hash (entries removed or reordered)",
            "edited": f"entry {broken.seq} does not match its hash (edited)",
            "unkeyed": (
                f"entry {broken.seq} carries a plain hash but the chain is keyed from entry "
                f"{self.seal.seq if self.seal else '?'}: written without {KEY_ENV}, or rewritten by someone without it"
            ),
        }
        return broken.reason, broken.seq, messages[broken.reason]

    def _head(self) -> tuple[str, int | None, str] | None:
        last = self.walked.last_seq
        if last < self.head_seq:
            return "truncated", last + 1, f"the head names entry {self.head_seq} but the chain ends at {last}"
        if last == self.head_seq and not same(self.walked.last_hash, self.head_hash):
            return "head", last, f"the head's hash is not entry {last}'s"
        if self.beyond > self.head_now:
            return "head", self.head_now + 1, f"entries go on to {self.beyond} past the head ({self.head_now})"
        return None

    def _keyed(self) -> tuple[str, int | None, str] | None:
        if self.key is None:
            if self.seal is not None or self.has_checkpoint:
                what = f"keyed from entry {self.seal.seq}" if self.seal else "purged behind a signed checkpoint"
                return "key_required", None, f"the trail is {what}: only {KEY_ENV} can verify it"
            return None
        if self.checkpoint_ok is False:
            return "checkpoint", None, f"the purge checkpoint's signature does not match {KEY_ENV}"
        if self.seal is None:
            return (
                "unsealed",
                None,
                f"the chain is not keyed: it was written without {KEY_ENV}, or its seal was removed and the "
                f"chain rewritten without {KEY_ENV}",
            )
        if not self.seal_ok():
            return (
                "seal",
                self.head_seq,
                f"the head (entry {self.head_seq}) is not the one sealed with {KEY_ENV}: the newest entries "
                "were removed and the head rolled back, or the head was changed",
            )
        return None


def seal(session: Session, *, key: str, now: datetime, verified_seq: int, verified_hash: str) -> Sealed:
    """Adopt the key for a chain verified (unkeyed) up to `verified_seq`: from the next entry on, every
    entry is keyed and the head sealed. Entries appended since that verification are checked first.

    Only an operator does this, once: a writer never adopts a key by itself, or someone with write
    access could strip the seal, rewrite the chain unkeyed and have the next pass seal the forgery.
    """
    head, sealed = _lock_head(session)
    if sealed is not None:
        raise MonitorError("the audit chain is already sealed; `monitor audit verify` checks it")
    since = walk(_rows(session, verified_seq, head.seq), start_seq=verified_seq, start_hash=verified_hash)
    if since.broken is not None or since.last_seq != head.seq or not same(since.last_hash, head.hash):
        raise MonitorError(
            "the audit chain changed while it was being verified in a way that does not chain; not sealed"
        )
    keyed_from = head.seq + 1
    session.add(
        AuditHead(
            id=SEAL_ROW, seq=keyed_from, hash=seal_head(key, seq=head.seq, head_hash=head.hash, keyed_from=keyed_from)
        )
    )
    session.flush()
    unkeyed = head.seq
    _append(session, key=key, at=now, kind="audit_sealed", detail=AuditSealed(keyed_from=keyed_from))
    return {"keyed_from": keyed_from, "unkeyed_entries": unkeyed, "head_seq": head.seq, "head_hash": head.hash}


def check_key(session: Session, *, key: str) -> None:
    """Before a purge signs anything: the key must be the one the seal and the last checkpoint carry."""
    head, seal_row = _chain_state(session)
    if seal_row is not None and head is not None:
        expected = seal_head(key, seq=head.seq, head_hash=head.hash, keyed_from=seal_row.seq)
        if not same(expected, seal_row.hash):
            raise MonitorError(f"{KEY_ENV} does not match the audit chain's seal (run `monitor audit verify`)")
    checkpoint = _newest_checkpoint(session)
    if checkpoint is not None and not _checkpoint_ok(checkpoint, key):
        raise MonitorError(f"{KEY_ENV} does not match the last purge checkpoint (run `monitor audit verify`)")


def purge(session: Session, *, before: datetime, key: str, now: datetime, forced: bool = False) -> Purge:
    """Remove audit entries and raw webhook bodies received before `before`, keeping the chain
    verifiable from a signed checkpoint. Only a prefix of the chain can go: entries from the first one
    at or after `before` stay. Webhook events not yet applied stay too (nothing received is lost)."""
    check_key(session, key=key)
    removed, through_seq = _purge_entries(session, before=before, key=key, now=now)
    webhooks, unapplied = _purge_webhook_events(session, before=before)
    monitoring = _purge_monitoring(session, before=before)
    if removed or webhooks or any(monitoring.values()):
        detail = Purged(
            removed_before=before.isoformat(),
            removed=removed,
            through_seq=through_seq,
            webhook_events_removed=webhooks,
            **monitoring,
            forced=forced,
        )
        _append(session, key=key, at=now, kind="purge", detail=detail)
    return {
        "removed": removed,
        "through_seq": through_seq,
        "webhook_events_removed": webhooks,
        "webhook_events_kept_unapplied": unapplied,
        **monitoring,
    }


def _purge_entries(session: Session, *, before: datetime, key: str, now: datetime) -> tuple[int, int | None]:
    t = event_table.c
    previous = _newest_checkpoint(session)
    floor = previous.through_seq if previous else 0
    first_kept = session.execute(select(func.min(t.seq)).where(t.seq > floor, t.at >= before)).scalar()
    last_removed = (first_kept - 1) if first_kept is not None else session.execute(select(func.max(t.seq))).scalar()
    session.execute(delete(event_table).where(t.seq.is_(None), t.at < before))  # unchained, older rows
    if not last_removed or last_removed <= floor:  # nothing left before `before` past the last checkpoint
        return 0, None
    boundary = session.execute(select(t.hash).where(t.seq == last_removed)).scalar_one()
    removed = rows_affected(session.execute(delete(event_table).where(t.seq <= last_removed)))
    signature = sign_checkpoint(
        key, through_seq=last_removed, through_hash=boundary, removed_before=before.isoformat(), removed_count=removed
    )
    session.add(
        AuditCheckpoint(
            created_at=now,
            removed_before=before,
            through_seq=last_removed,
            through_hash=boundary,
            removed_count=removed,
            actor=ACTOR.get(),
            signature=signature,
        )
    )
    return removed, last_removed


def _purge_monitoring(session: Session, *, before: datetime) -> MonitoringPurged:
    """Income monitoring's snapshots and findings are PII like the audit detail: they go with it.

    An active loan's newest snapshot per connection stays whatever its age: it is the baseline the
    next report is compared with, and dropping it would turn the next change into a silent baseline.
    """
    snap, found, due = link_snapshot_table, finding_table, report_due_table
    newest = select(func.max(snap.c.id)).group_by(snap.c.loan_id, snap.c.token_hash).scalar_subquery()
    active = select(loan_table.c.loan_id).where(loan_table.c.status == "active")
    superseded = or_(snap.c.id.not_in(newest), snap.c.loan_id.not_in(active))
    snapshots = rows_affected(session.execute(delete(snap).where(snap.c.taken_at < before, superseded)))
    findings = rows_affected(session.execute(delete(found).where(found.c.detected_at < before)))
    reports = rows_affected(
        session.execute(delete(due).where(due.c.created_at < before, due.c.state != ReportState.DUE))
    )
    return MonitoringPurged(snapshots_removed=snapshots, findings_removed=findings, reports_due_removed=reports)


def _purge_webhook_events(session: Session, *, before: datetime) -> tuple[int, int]:
    """Raw webhook bodies hold borrowers' data: settled events received before `before` go. One still
    `received` (not applied yet) is kept, so a purge never loses an event that has not taken effect."""
    t = webhook_event_table.c
    old = t.received_at < before
    removed = rows_affected(session.execute(delete(webhook_event_table).where(old, t.state != "received")))
    kept = session.execute(select(func.count()).where(old, t.state == "received")).scalar_one()
    return removed, kept
