"""The audit chain's bytes and MACs against references computed here with the standard library (README
"Security": hash-chained, and with MONITOR_AUDIT_KEY an HMAC chain with a sealed head). Complements
test_audit_chain_table.py, which attacks whole chains: these rows pin what each digest covers."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from monitor.core.audit import (
    FIELDS,
    GENESIS,
    Break,
    canonical,
    chain_hash,
    keyed_hash,
    same,
    seal_head,
    sign_checkpoint,
    walk,
)

T0 = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
KEY = "audit-key-0123456789abcdef0123456789"
ENTRY: dict[str, Any] = {
    "seq": 1,
    "at": T0,
    "kind": "reserved",
    "run_id": "run-1",
    "loan_id": "L-1004",
    "reservation_id": "res-1",
    "actor": "monitor",
    "purpose": "FCRA 604(a)(3)(A)",
    "version": "0.1",
    "detail": '{"tokens":1}',
}


def expected_bytes(entry: dict[str, Any]) -> bytes:
    values = {k: (entry[k].isoformat() if isinstance(entry.get(k), datetime) else entry.get(k)) for k in FIELDS}
    return json.dumps(values, sort_keys=True, separators=(",", ":")).encode()


def test_genesis_is_64_zeros():
    assert GENESIS == "0" * 64


def test_canonical_is_sorted_compact_json_of_the_fields():
    assert canonical(ENTRY) == expected_bytes(ENTRY)
    assert json.loads(canonical(ENTRY))["at"] == "2026-06-05T12:00:00+00:00"


@pytest.mark.parametrize(
    ("change", "same_bytes"),
    [
        pytest.param({"hash": "x", "prev_hash": "y"}, True, id="link-fields-not-covered"),
        pytest.param({"id": 99, "extra": "z"}, True, id="unknown-keys-not-covered"),
        pytest.param({"loan_id": "L-1005"}, False, id="loan_id"),
        pytest.param({"seq": 2}, False, id="seq"),
        pytest.param({"at": T0 + timedelta(microseconds=1)}, False, id="a-microsecond"),
        pytest.param({"detail": '{"tokens":2}'}, False, id="detail"),
        pytest.param({"purpose": None}, False, id="purpose-removed"),
        pytest.param({"actor": "operator"}, False, id="actor"),
        pytest.param({"version": "0.2"}, False, id="version"),
    ],
)
def test_what_the_bytes_cover(change, same_bytes):
    assert (canonical({**ENTRY, **change}) == canonical(ENTRY)) is same_bytes


@pytest.mark.parametrize("field", FIELDS)
def test_a_missing_field_is_null_not_an_error(field):
    entry = {k: v for k, v in ENTRY.items() if k != field}
    assert json.loads(canonical(entry))[field] is None


def test_the_same_instant_in_another_offset_hashes_the_same():
    shifted = {**ENTRY, "at": T0.astimezone(timezone(timedelta(hours=2)))}
    assert canonical(shifted) == canonical(ENTRY)


@pytest.mark.parametrize("prev", [GENESIS, "a" * 64, hashlib.sha256(b"x").hexdigest()])
def test_chain_hash_is_sha256_of_prev_then_bytes(prev):
    assert chain_hash(prev, ENTRY) == hashlib.sha256(prev.encode() + expected_bytes(ENTRY)).hexdigest()


@pytest.mark.parametrize("prev", [GENESIS, "b" * 64])
def test_keyed_hash_is_a_domain_separated_hmac(prev):
    message = b"monitor-audit-entry\x00" + prev.encode() + expected_bytes(ENTRY)
    assert keyed_hash(KEY, prev, ENTRY) == hmac.new(KEY.encode(), message, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("seq", "head", "keyed_from"),
    [(1, "a" * 64, 1), (1000, "b" * 64, 1), (1000, "b" * 64, 500), (0, GENESIS, 1)],
)
def test_seal_head_covers_count_head_and_where_keying_starts(seq, head, keyed_from):
    message = f"monitor-audit-seal:{seq}:{head}:{keyed_from}".encode()
    assert seal_head(KEY, seq=seq, head_hash=head, keyed_from=keyed_from) == (
        hmac.new(KEY.encode(), message, hashlib.sha256).hexdigest()
    )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"seq": 999}, id="count"),
        pytest.param({"head_hash": "c" * 64}, id="head"),
        pytest.param({"keyed_from": 2}, id="keyed-from"),
    ],
)
def test_a_seal_changes_with_any_of_its_parts(change):
    base = {"seq": 1000, "head_hash": "b" * 64, "keyed_from": 1}
    assert seal_head(KEY, **base) != seal_head(KEY, **{**base, **change})
    assert seal_head(KEY, **base) != seal_head(KEY + "x", **base)


def test_a_checkpoint_signature_is_v1_hmac_over_its_fields():
    got = sign_checkpoint(KEY, through_seq=10, through_hash="d" * 64, removed_before="2026-01-01", removed_count=10)
    message = f"10:{'d' * 64}:2026-01-01:10".encode()
    assert got == "v1=" + hmac.new(KEY.encode(), message, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        pytest.param("a" * 64, "a" * 64, True, id="equal"),
        pytest.param("a" * 64, "a" * 63 + "b", False, id="last-digit"),
        pytest.param("a" * 64, "a" * 63, False, id="length"),
        pytest.param("", "", True, id="both-empty"),
        pytest.param("a", None, False, id="one-missing"),
    ],
)
def test_same(a, b, equal):
    assert same(a, b) is equal


# -- walk from where a purge left off -------------------------------------------------------------------


def chain(n: int, *, start_seq: int = 0, start_hash: str = GENESIS) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    prev = start_hash
    for seq in range(start_seq + 1, start_seq + n + 1):
        entry = {**ENTRY, "seq": seq, "at": T0 + timedelta(minutes=seq), "prev_hash": prev}
        entry["hash"] = chain_hash(prev, entry)
        prev = entry["hash"]
        out.append(entry)
    return out


@pytest.mark.parametrize(
    ("start_seq", "n"),
    [pytest.param(0, 3, id="from-genesis"), pytest.param(100, 3, id="after-a-purge"), pytest.param(7, 0, id="empty")],
)
def test_walk_counts_from_its_starting_point(start_seq, n):
    start_hash = GENESIS if start_seq == 0 else "e" * 64
    entries = chain(n, start_seq=start_seq, start_hash=start_hash)
    got = walk(entries, start_seq=start_seq, start_hash=start_hash)
    assert (got.count, got.last_seq, got.broken) == (n, start_seq + n, None)
    assert got.last_hash == (entries[-1]["hash"] if entries else start_hash)


@pytest.mark.parametrize(
    ("start_seq", "broken"),
    [
        pytest.param(99, Break(100, "missing"), id="gap-at-start"),
        pytest.param(101, Break(102, "missing"), id="overlap"),
    ],
)
def test_walk_from_the_wrong_point_breaks_at_once(start_seq, broken):
    entries = chain(3, start_seq=100, start_hash="e" * 64)
    got = walk(entries, start_seq=start_seq, start_hash="e" * 64)
    assert got.broken == broken
    assert got.count == 0


def test_an_unkeyed_chain_walked_with_a_key_but_no_keyed_from_is_plain():
    got = walk(chain(3), key=KEY)
    assert (got.broken, got.keyed_verified, got.keyed_unchecked) == (None, 0, 0)
