"""What `audit verify`, `audit verify --seal` and `purge` answer (the JSON `--json` prints as it is)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict


class CheckpointReport(TypedDict):
    through_seq: int
    removed_before: datetime
    removed_count: int
    signature_ok: bool


class Verification(TypedDict):
    """`ok` only when everything that can be checked was checked and holds; else `reason` names the
    first problem, `first_broken_seq` the entry where it is (when one is), `message` says it."""

    ok: bool
    reason: str | None
    first_broken_seq: int | None
    message: str | None
    keyed: bool
    keyed_from: int | None
    key_given: bool
    entries_checked: int
    head_seq: int
    head_hash: str
    checkpoint: CheckpointReport | None


class Sealed(TypedDict):
    keyed_from: int
    unkeyed_entries: int
    head_seq: int
    head_hash: str


class Purge(TypedDict):
    removed: int
    through_seq: int | None
    webhook_events_removed: int
    webhook_events_kept_unapplied: int
    snapshots_removed: int
    findings_removed: int
    reports_due_removed: int
