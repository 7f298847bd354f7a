"""The audit chain's arithmetic without a database (README "The audit trail": hash-chained, and with
MONITOR_AUDIT_KEY an HMAC chain with a sealed head; an edit, a truncation or an emptied trail fails)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
KEY = "k" * 32


def build(n: int, *, keyed_from: int | None = None, key: str = KEY) -> list[dict[str, Any]]:
    """A well-formed chain of n entries, keyed from `keyed_from` on."""
    entries: list[dict[str, Any]] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        entry: dict[str, Any] = {
            "seq": seq,
            "at": T0 + timedelta(minutes=seq),
            "kind": "reserved" if seq % 2 else "outcome",
            "run_id": "r1",
            "loan_id": f"L{seq}",
            "reservation_id": f"res{seq}",
            "actor": "monitor",
            "purpose": "FCRA 604(a)(3)(A)",
            "version": "1",
            "detail": '{"tokens":1}',
            "prev_hash": prev,
        }
        keyed = keyed_from is not None and seq >= keyed_from
        entry["hash"] = keyed_hash(key, prev, entry) if keyed else chain_hash(prev, entry)
        prev = entry["hash"]
        entries.append(entry)
    return entries


def test_an_untouched_chain_walks_to_its_head():
    chain = build(5)
    got = walk(chain)
    assert (got.count, got.last_seq, got.last_hash, got.broken) == (5, 5, chain[-1]["hash"], None)


def test_an_empty_chain_is_its_genesis():
    got = walk([])
    assert (got.count, got.last_seq, got.last_hash, got.broken) == (0, 0, GENESIS, None)


def edited(chain, seq, **fields):
    out = [dict(e) for e in chain]
    out[seq - 1].update(fields)
    return out


@pytest.mark.parametrize(
    ("tamper", "broken"),
    [
        # a field edited in place no longer matches its hash
        (lambda c: edited(c, 3, loan_id="L999"), Break(3, "edited")),
        (lambda c: edited(c, 1, detail='{"tokens":2}'), Break(1, "edited")),
        (lambda c: edited(c, 5, at=T0), Break(5, "edited")),
        (lambda c: edited(c, 4, kind="skipped"), Break(4, "edited")),
        # an entry deleted leaves a gap in seq
        (lambda c: c[:2] + c[3:], Break(3, "missing")),
        (lambda c: c[1:], Break(1, "missing")),
        # entries swapped
        (lambda c: [c[0], c[2], c[1], c[3], c[4]], Break(2, "missing")),
        # an entry whose hash was recomputed after an edit no longer links to the next
        (lambda c: rehashed(c, 2, loan_id="L999"), Break(3, "relinked")),
        # a new first entry pointing at something other than the genesis
        (lambda c: edited(c, 1, prev_hash="f" * 64), Break(1, "relinked")),
    ],
)
def test_every_kind_of_tampering_is_the_first_break(tamper, broken):
    got = walk(tamper(build(5)))
    assert got.broken == broken
    assert got.count == broken.seq - 1 if broken.seq is not None else True


def rehashed(chain, seq, **fields):
    out = edited(chain, seq, **fields)
    entry = out[seq - 1]
    entry["hash"] = chain_hash(entry["prev_hash"], entry)
    return out


def test_a_truncated_tail_is_not_a_break_the_seal_catches_it():
    # Without the seal, dropping the newest entries leaves a shorter but valid chain: the README's
    # reason for sealing the head.
    chain = build(5, keyed_from=1)
    short = walk(chain[:3], keyed_from=1, key=KEY)
    assert short.broken is None and short.last_seq == 3
    seal = seal_head(KEY, seq=5, head_hash=chain[-1]["hash"], keyed_from=1)
    assert not same(seal, seal_head(KEY, seq=short.last_seq, head_hash=short.last_hash, keyed_from=1))
    assert same(seal, seal_head(KEY, seq=5, head_hash=chain[-1]["hash"], keyed_from=1))


@pytest.mark.parametrize(
    ("keyed_from", "key", "verified", "unchecked", "broken"),
    [
        (3, KEY, 3, 0, None),  # entries 3..5 verified under the key
        (3, None, 0, 3, None),  # without the key: linkage only
        (3, "wrong" * 8, 0, 0, Break(3, "edited")),  # another key: the first keyed entry fails
        (1, KEY, 5, 0, None),
    ],
)
def test_a_keyed_chain(keyed_from, key, verified, unchecked, broken):
    got = walk(build(5, keyed_from=keyed_from), keyed_from=keyed_from, key=key)
    assert (got.keyed_verified, got.keyed_unchecked, got.broken) == (verified, unchecked, broken)


def test_an_entry_rewritten_without_the_key_in_the_keyed_part_is_a_downgrade():
    chain = build(5, keyed_from=2)
    forged = rehashed(chain, 5, loan_id="L999")  # a plain SHA-256 where an HMAC belongs
    assert walk(forged, keyed_from=2, key=KEY).broken == Break(5, "unkeyed")


def test_a_walk_can_start_after_a_purge_checkpoint():
    chain = build(6)
    got = walk(chain[3:], start_seq=3, start_hash=chain[2]["hash"])
    assert (got.count, got.last_seq, got.broken) == (3, 6, None)
    assert walk(chain[3:], start_seq=3, start_hash=GENESIS).broken == Break(4, "relinked")


def test_the_hashed_bytes_are_the_fields_in_a_fixed_order_with_utc_times():
    entry = build(1)[0]
    text = canonical(entry).decode()
    assert text.startswith('{"actor":"monitor","at":"2026-06-05T12:01:00+00:00"')
    assert "prev_hash" not in text and '"hash"' not in text  # the link is hashed separately
    assert set(FIELDS) == {
        "seq",
        "at",
        "kind",
        "run_id",
        "loan_id",
        "reservation_id",
        "actor",
        "purpose",
        "version",
        "detail",
    }
    # a key order or an extra non-field key does not change the bytes
    assert canonical({**dict(reversed(list(entry.items()))), "extra": 1}) == canonical(entry)


def test_entry_mac_seal_and_checkpoint_signature_never_stand_in_for_each_other():
    entry = build(1)[0]
    mac = keyed_hash(KEY, GENESIS, entry)
    seal = seal_head(KEY, seq=1, head_hash=mac, keyed_from=1)
    signature = sign_checkpoint(KEY, through_seq=1, through_hash=mac, removed_before="2026-01-01", removed_count=1)
    assert len({mac, seal, signature.removeprefix("v1=")}) == 3
    assert signature.startswith("v1=")
    assert mac != chain_hash(GENESIS, entry)
    assert keyed_hash("other", GENESIS, entry) != mac


@pytest.mark.parametrize(
    ("a", "b", "equal"), [("ab", "ab", True), ("ab", "ac", False), (None, "ab", False), (None, None, False)]
)
def test_same(a, b, equal):
    assert same(a, b) is equal


@settings(deadline=None)
@given(
    st.integers(min_value=1, max_value=6),
    st.sampled_from([f for f in FIELDS if f != "seq"]),
    st.one_of(st.text(max_size=20), st.integers(), st.none()),
    st.booleans(),
)
def test_any_single_field_edit_is_found_at_that_entry(n_before, field, value, keyed):
    chain = build(7, keyed_from=1 if keyed else None)
    target = chain[n_before - 1]
    if target[field] == value:
        return
    tampered = edited(chain, n_before, **{field: value})
    got = walk(tampered, keyed_from=1 if keyed else None, key=KEY if keyed else None)
    assert got.broken == Break(n_before, "edited")
    assert got.count == n_before - 1
