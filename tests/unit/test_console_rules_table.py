"""The console's pure rules as tables: passwords, where a login may send you back to, the sign-in
gate's windows, and how long a cached read is trusted."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from monitor.console.cache import Cached
from monitor.console.security import SignInGate
from monitor.console.web import safe_next
from monitor.core.passwords import hash_password, needs_rehash, password_problem, verify_password
from tests.console.world import limiter_on

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STORED = hash_password("correct horse battery staple")
# What `console add-user` stored before argon2id: scrypt N=2**14 here (2**17 then) to keep the table quick.
SCRYPT = (
    "scrypt$16384$8$1$MDEyMzQ1Njc4OWFiY2RlZg==$"
    + base64.b64encode(
        hashlib.scrypt(b"correct horse battery staple", salt=b"0123456789abcdef", n=2**14, r=8, p=1, dklen=32)
    ).decode()
)


@pytest.mark.parametrize(
    ("password", "stored", "ok"),
    [
        ("correct horse battery staple", STORED, True),
        ("correct horse battery stapl", STORED, False),
        ("Correct horse battery staple", STORED, False),
        ("", STORED, False),
        ("correct horse battery staple", STORED.replace("$argon2id$", "$argon2xx$"), False),
        ("correct horse battery staple", "not a hash", False),
        ("correct horse battery staple", STORED.rsplit("$", 1)[0] + "$!!notbase64!!", False),
        ("correct horse battery staple", SCRYPT, True),
        ("correct horse battery stapl", SCRYPT, False),
        ("correct horse battery staple", SCRYPT.replace("scrypt$", "bcrypt$"), False),
        ("correct horse battery staple", SCRYPT.rsplit("$", 1)[0] + "$!!notbase64!!", False),
        ("correct horse battery staple", "scrypt$x$8$1$AAAA$AAAA", False),
    ],
    ids=lambda value: None if not isinstance(value, str) or not value.startswith(("$", "scrypt")) else "hash",
)
def test_a_password_verifies_only_against_its_own_hash(password, stored, ok):
    assert verify_password(password, stored) is ok


def test_the_hash_is_salted_and_keeps_its_parameters():
    a, b = hash_password("same password here"), hash_password("same password here")
    assert a != b  # a fresh salt each time
    _, scheme, version, params, _, _ = a.split("$")
    # OWASP's argon2id line: 19 MiB, 2 passes, 1 lane
    assert (scheme, version, params) == ("argon2id", "v=19", "m=19456,t=2,p=1")
    assert "same password here" not in a
    assert not needs_rehash(a)


@pytest.mark.parametrize(
    "stored",
    [SCRYPT, "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG", "not a hash"],
)
def test_a_hash_made_otherwise_is_due_for_a_rehash(stored):
    assert needs_rehash(stored)


@pytest.mark.parametrize(
    ("password", "name", "problem"),
    [
        ("short", "alice", "at least 12 characters expected, got 5"),
        ("elevenchars", "alice", "at least 12 characters expected, got 11"),
        ("twelve chars", "alice", None),
        ("AliceAliceAlice", "alicealicealice", "the password must not be the user name"),
        ("a much longer passphrase", "alice", None),
    ],
)
def test_password_rules(password, name, problem):
    assert password_problem(password, name=name) == problem


@pytest.mark.parametrize(
    ("asked", "sent_to"),
    [
        ("/ledger", "/ledger"),
        ("/loans?stale=1", "/loans?stale=1"),
        (None, "/"),
        ("", "/"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("ledger", "/"),
    ],
)
def test_a_login_sends_you_back_only_within_the_console(asked, sent_to):
    assert safe_next(asked) == sent_to


def test_the_gate_counts_each_name_from_an_address_and_each_address_in_moving_windows(clock, monkeypatch):
    limiter_on(clock, monkeypatch)
    gate, now = SignInGate(), lambda: clock.now().timestamp()
    for _ in range(5):
        assert gate.reserve("10.0.0.1", "alice", now=now()) is None
        clock.sleep(60)
    refused = gate.reserve("10.0.0.1", "Alice", now=now())  # names are counted case-blind
    assert refused is not None and refused.reason == "name_from_address"
    assert 9 * 60 < refused.wait_seconds <= 10 * 60  # the first attempt leaves the window at 15 minutes
    assert gate.reserve("10.0.0.1", "bob", now=now()) is None  # another name from that address: its own count
    clock.sleep(10 * 60 + 1)
    assert gate.reserve("10.0.0.1", "alice", now=now()) is None  # the moving window let the oldest go


def test_one_address_is_held_to_20_attempts_whatever_the_names(clock, monkeypatch):
    limiter_on(clock, monkeypatch)
    gate, now = SignInGate(), clock.now().timestamp()
    assert all(gate.reserve("10.0.0.1", f"name{i}", now=now) is None for i in range(20))
    refused = gate.reserve("10.0.0.1", "name20", now=now)
    assert refused is not None and refused.reason == "address"
    keys = gate.keys()
    for i in range(1000):  # refused attempts record nothing
        assert gate.reserve("10.0.0.1", f"another{i}", now=now) is not None
    assert gate.keys() == keys


def test_a_name_under_attack_slows_down_but_an_address_with_a_clean_record_still_gets_in(clock, monkeypatch):
    limiter_on(clock, monkeypatch)
    gate, now = SignInGate(), lambda: clock.now().timestamp()
    for i in range(6):  # six addresses, one wrong guess each: the name is under attack
        assert gate.reserve(f"203.0.113.{i}", "alice", now=now()) is None
    assert gate.reserve("198.51.100.7", "alice", now=now()) is None  # her desk: never tried in the window
    # an address that has tried before gets one check per 10 s on that name, not a lockout
    assert gate.reserve("203.0.113.1", "alice", now=now()) is None
    slowed = gate.reserve("203.0.113.2", "alice", now=now())
    assert slowed is not None and slowed.reason == "name_under_attack" and slowed.wait_seconds <= 10
    clock.sleep(11)
    assert gate.reserve("203.0.113.2", "alice", now=now()) is None
    gate.succeeded("198.51.100.7", "alice")  # the right password: the name is no longer under attack
    assert gate.reserve("203.0.113.3", "alice", now=now()) is None


def test_the_password_check_slots_are_taken_without_waiting():
    gate = SignInGate(hashes=2)
    assert gate.slot() and gate.slot()
    assert not gate.slot()  # the third is refused at once
    gate.release()
    assert gate.slot()


def test_a_cached_read_is_reused_within_its_time_and_read_again_after():
    reads: list[int] = []
    cache = Cached(ttl=timedelta(seconds=30))

    def read() -> int:
        reads.append(1)
        return len(reads)

    assert cache.get("k", T0, read) == (T0, 1)
    assert cache.get("k", T0 + timedelta(seconds=29), read) == (T0, 1)
    assert cache.get("k", T0 + timedelta(seconds=30), read) == (T0 + timedelta(seconds=30), 2)
    assert cache.get("k", T0 + timedelta(seconds=31), read, ttl=timedelta(seconds=0)) == (
        T0 + timedelta(seconds=31),
        3,
    )
    cache.forget("k")
    assert cache.get("k", T0 + timedelta(seconds=32), read)[1] == 4
    assert len(reads) == 4
