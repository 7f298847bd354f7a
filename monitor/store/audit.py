"""The append-only audit trail: every decision and event, hash-chained in one order."""

from __future__ import annotations

import contextvars
import json
import os
import socket
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import delete, func, select
from sqlmodel import Session

from monitor import __version__
from monitor.core.audit import GENESIS, chain_hash, first_break, sign_checkpoint
from monitor.store.db import upsert_insert
from monitor.store.tables import AuditCheckpoint, AuditHead, Event

# Who is acting: the CLI sets it per command (an operator, the daemon, the receiver).
ACTOR: contextvars.ContextVar[str] = contextvars.ContextVar(
    "monitor_actor", default=f"monitor@{socket.gethostname()}:{os.getpid()}"
)


def append(
    session: Session,
    *,
    at: datetime,
    kind: str,
    run_id: str | None = None,
    loan_id: str | None = None,
    reservation_id: str | None = None,
    purpose: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Chain one entry. The head row is locked until the caller commits, so entries chain in one order
    across threads and instances; it is always the last lock a transaction takes (no deadlocks)."""
    insert = partial(upsert_insert, session)
    session.execute(
        insert(AuditHead.__table__).values(id=1, seq=0, hash=GENESIS).on_conflict_do_nothing(index_elements=["id"])
    )
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalars().one()  # type: ignore[arg-type]
    entry = {
        "seq": head.seq + 1,
        "at": at,
        "kind": kind,
        "run_id": run_id,
        "loan_id": loan_id,
        "reservation_id": reservation_id,
        "actor": ACTOR.get(),
        "purpose": purpose,
        "version": __version__,
        "detail": json.dumps(detail or {}, default=str, sort_keys=True),
    }
    digest = chain_hash(head.hash, entry)
    session.add(Event(**entry, prev_hash=head.hash, hash=digest))
    head.seq, head.hash = entry["seq"], digest
    session.add(head)


def _rows(session: Session, after_seq: int) -> Iterator[dict[str, Any]]:
    t = Event.__table__.c
    last = after_seq
    while True:
        batch = (
            session.execute(
                select(
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
                )
                .where(t.seq > last)
                .order_by(t.seq)
                .limit(5000)
            )
            .mappings()
            .all()
        )
        if not batch:
            return
        yield from batch
        last = batch[-1]["seq"]


def verify(session: Session, *, key: str | None) -> dict[str, Any]:
    """Walk the chain from the newest checkpoint (or the start); report the first broken link."""
    checkpoint = session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)).scalars().first()  # type: ignore[union-attr]
    start_seq, start_hash = 0, GENESIS
    result: dict[str, Any] = {"checkpoint": None}
    if checkpoint is not None:
        start_seq, start_hash = checkpoint.through_seq, checkpoint.through_hash
        expected = sign_checkpoint(
            key or "",
            through_seq=checkpoint.through_seq,
            through_hash=checkpoint.through_hash,
            removed_before=checkpoint.removed_before.isoformat(),
            removed_count=checkpoint.removed_count,
        )
        result["checkpoint"] = {
            "through_seq": checkpoint.through_seq,
            "removed_before": checkpoint.removed_before,
            "removed_count": checkpoint.removed_count,
            "signature_ok": key is not None and expected == checkpoint.signature,
        }
    head = session.get(AuditHead, 1)
    count = session.execute(select(func.count()).where(Event.seq.is_not(None), Event.seq > start_seq)).scalar_one()  # type: ignore[union-attr,operator]
    broken = first_break(_rows(session, start_seq), start_seq=start_seq, start_hash=start_hash)
    if broken is None and head is not None and head.seq != start_seq + count:
        broken_seq = start_seq + count + 1
        result.update(ok=False, first_broken_seq=broken_seq, reason="missing (the newest entries were removed)")
    elif broken is not None:
        result.update(ok=False, first_broken_seq=broken.seq, reason=broken.reason)
    else:
        result.update(ok=True, first_broken_seq=None, reason=None)
    result["entries_checked"] = count
    result["head_seq"] = head.seq if head else 0
    return result


def purge(session: Session, *, before: datetime, key: str, now: datetime) -> dict[str, Any]:
    """Remove entries older than `before`, keeping the chain verifiable from a signed checkpoint.

    Only a prefix of the chain can go: entries from the first one at or after `before` stay.
    """
    t = Event.__table__.c
    first_kept = session.execute(select(func.min(t.seq)).where(t.seq.is_not(None), t.at >= before)).scalar()
    last_removed = (first_kept - 1) if first_kept is not None else session.execute(select(func.max(t.seq))).scalar()
    if not last_removed:
        return {"removed": 0}
    boundary = session.execute(select(t.hash).where(t.seq == last_removed)).scalar_one()
    removed = session.execute(delete(Event.__table__).where(t.seq <= last_removed)).rowcount or 0
    session.execute(delete(Event.__table__).where(t.seq.is_(None), t.at < before))
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
    append(
        session,
        at=now,
        kind="purge",
        detail={"removed_before": before.isoformat(), "removed": removed, "through_seq": last_removed},
    )
    return {"removed": removed, "through_seq": last_removed}
