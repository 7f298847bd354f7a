"""The audit chain's arithmetic. Pure: entries in, hashes and the first broken link out."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
FIELDS = ("seq", "at", "kind", "run_id", "loan_id", "reservation_id", "actor", "purpose", "version", "detail")


def canonical(entry: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash covers: its fields in a fixed order, times as ISO-8601 UTC."""
    values = {k: (entry[k].isoformat() if hasattr(entry.get(k), "isoformat") else entry.get(k)) for k in FIELDS}
    return json.dumps(values, sort_keys=True, separators=(",", ":")).encode("utf-8")


def chain_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(entry)).hexdigest()


@dataclass(frozen=True, slots=True)
class Break:
    seq: int | None
    reason: str  # "edited" | "missing" | "relinked"


def first_break(entries: Iterable[Mapping[str, Any]], *, start_seq: int = 0, start_hash: str = GENESIS) -> Break | None:
    """Walk entries in seq order from a known point; the first one that does not chain, if any.

    An edited entry no longer matches its own hash; a deleted one leaves a gap in seq (and the
    next entry's prev_hash names a hash that is no longer there).
    """
    expected_seq, prev = start_seq + 1, start_hash
    for entry in entries:
        seq = entry["seq"]
        if seq != expected_seq:
            return Break(expected_seq, "missing")
        if entry["prev_hash"] != prev:
            return Break(seq, "relinked")
        if chain_hash(prev, entry) != entry["hash"]:
            return Break(seq, "edited")
        prev, expected_seq = entry["hash"], seq + 1
    return None


def sign_checkpoint(key: str, *, through_seq: int, through_hash: str, removed_before: str, removed_count: int) -> str:
    message = f"{through_seq}:{through_hash}:{removed_before}:{removed_count}".encode()
    return "v1=" + hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
