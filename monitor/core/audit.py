"""The audit chain's arithmetic. Pure: entries in, hashes and the first broken link out.

Two kinds of entry hash share one chain. An unkeyed entry's hash is SHA-256 over the previous hash and
its fields: anyone who can write to the database can recompute it. A keyed entry's hash is an
HMAC-SHA256 with MONITOR_AUDIT_KEY over the same bytes: only the key holder can. A chain is keyed from
one entry on (`keyed_from`, recorded in the seal), and the seal, an HMAC over the newest entry's seq
and hash, covers the count and the head, so removing the newest entries or emptying the trail shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
FIELDS = ("seq", "at", "kind", "run_id", "loan_id", "reservation_id", "actor", "purpose", "version", "detail")
# Domain separation: an entry MAC, a seal and a checkpoint signature can never stand in for each other.
_ENTRY_DOMAIN = b"monitor-audit-entry\x00"
_SEAL_DOMAIN = "monitor-audit-seal"
_SEAL_FILE_DOMAIN = "monitor-audit-seal-file"


def canonical(entry: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash covers: its fields in a fixed order, times as ISO-8601 UTC."""
    values = {k: _text(entry.get(k)) for k in FIELDS}
    return json.dumps(values, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _text(value: Any) -> Any:
    # The database hands times back in UTC: an instant written with another offset must hash the same.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()
    return value.isoformat() if hasattr(value, "isoformat") else value


def chain_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """An unkeyed entry's hash."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(entry)).hexdigest()


def keyed_hash(key: str, prev_hash: str, entry: Mapping[str, Any]) -> str:
    """A keyed entry's hash: the same bytes as `chain_hash`, under HMAC-SHA256."""
    message = _ENTRY_DOMAIN + prev_hash.encode("ascii") + canonical(entry)
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def seal_head(key: str, *, seq: int, head_hash: str, keyed_from: int) -> str:
    """The seal over the newest entry (its seq is the count) and where keying starts."""
    message = f"{_SEAL_DOMAIN}:{seq}:{head_hash}:{keyed_from}".encode()
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def seal_file_mac(key: str, *, keyed_from: int, head_seq: int, head_hash: str) -> str:
    """The seal file's HMAC: where keying starts and the head at the last verify, kept outside the database."""
    message = f"{_SEAL_FILE_DOMAIN}:{keyed_from}:{head_seq}:{head_hash}".encode()
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign_checkpoint(key: str, *, through_seq: int, through_hash: str, removed_before: str, removed_count: int) -> str:
    message = f"{through_seq}:{through_hash}:{removed_before}:{removed_count}".encode()
    return "v1=" + hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two hex digests (either may be missing)."""
    return a is not None and b is not None and hmac.compare_digest(a, b)


@dataclass(frozen=True, slots=True)
class Break:
    seq: int | None
    reason: str  # "missing" | "relinked" | "edited" | "unkeyed"


@dataclass(frozen=True, slots=True)
class Walk:
    """What a walk over the chain found: where it ended, what it could check, the first break."""

    count: int
    last_seq: int
    last_hash: str
    keyed_verified: int  # keyed entries whose HMAC matched the key
    keyed_unchecked: int  # keyed entries walked without a key: linkage checked, hash not
    broken: Break | None


def walk(
    entries: Iterable[Mapping[str, Any]],
    *,
    start_seq: int = 0,
    start_hash: str = GENESIS,
    keyed_from: int | None = None,
    key: str | None = None,
) -> Walk:
    """Walk entries in seq order from a known point; stop at the first one that does not chain.

    An edited entry no longer matches its own hash; a deleted one leaves a gap in seq (and the next
    entry's prev_hash names a hash that is no longer there). From `keyed_from` on, every entry must
    carry an HMAC: a plain hash there was written without the key, or downgraded by someone without it.
    """
    expected_seq, prev = start_seq + 1, start_hash
    count = verified = unchecked = 0
    for entry in entries:
        seq = entry["seq"]
        broken = _link_break(entry, expected_seq=expected_seq, prev=prev)
        if broken is None:
            keyed = keyed_from is not None and seq >= keyed_from
            if keyed and key is None:
                unchecked += 1
            elif keyed:
                broken = _keyed_break(entry, key=key or "", prev=prev)
                verified += broken is None
            elif not same(chain_hash(prev, entry), entry["hash"]):
                broken = Break(seq, "edited")
        if broken is not None:
            return Walk(count, expected_seq - 1, prev, verified, unchecked, broken)
        prev, expected_seq, count = entry["hash"], seq + 1, count + 1
    return Walk(count, expected_seq - 1, prev, verified, unchecked, None)


def _link_break(entry: Mapping[str, Any], *, expected_seq: int, prev: str) -> Break | None:
    if entry["seq"] != expected_seq:
        return Break(expected_seq, "missing")
    if entry["prev_hash"] != prev:
        return Break(entry["seq"], "relinked")
    return None


def _keyed_break(entry: Mapping[str, Any], *, key: str, prev: str) -> Break | None:
    if same(keyed_hash(key, prev, entry), entry["hash"]):
        return None
    if same(chain_hash(prev, entry), entry["hash"]):
        return Break(entry["seq"], "unkeyed")
    return Break(entry["seq"], "edited")
