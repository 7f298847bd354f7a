"""The console's pure rules as tables: passwords, where a login may send you back to, the login
throttle's window, and how long a cached read is trusted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.console.cache import Cached
from monitor.console.security import LoginThrottle
from monitor.console.web import safe_next
from monitor.core.passwords import hash_password, password_problem, verify_password

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STORED = hash_password("correct horse battery staple", salt=b"0123456789abcdef")


@pytest.mark.parametrize(
    ("password", "stored", "ok"),
    [
        ("correct horse battery staple", STORED, True),
        ("correct horse battery stapl", STORED, False),
        ("Correct horse battery staple", STORED, False),
        ("", STORED, False),
        ("correct horse battery staple", STORED.replace("scrypt$", "bcrypt$"), False),
        ("correct horse battery staple", "not a hash", False),
        ("correct horse battery staple", STORED.rsplit("$", 1)[0] + "$!!notbase64!!", False),
        ("correct horse battery staple", "scrypt$x$8$1$AAAA$AAAA", False),
    ],
)
def test_a_password_verifies_only_against_its_own_hash(password, stored, ok):
    assert verify_password(password, stored) is ok


def test_the_hash_is_salted_and_keeps_its_parameters():
    a, b = hash_password("same password here"), hash_password("same password here")
    assert a != b  # a fresh salt each time
    scheme, n, r, p, _, _ = a.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**17, 8, 1)
    assert "same password here" not in a


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


def test_the_throttle_counts_failures_in_a_sliding_window():
    throttle = LoginThrottle(attempts=3, window=timedelta(minutes=15))
    keys = ("addr:10.0.0.1", "user:alice")
    for minute in range(3):
        assert throttle.retry_after(keys, T0 + timedelta(minutes=minute)) is None
        throttle.failed(keys, T0 + timedelta(minutes=minute))
    assert throttle.retry_after(keys, T0 + timedelta(minutes=3)) == timedelta(minutes=12)
    # another name from the same address, and the same name from another address, are both held back
    assert throttle.retry_after(("addr:10.0.0.1", "user:bob"), T0 + timedelta(minutes=3)) is not None
    assert throttle.retry_after(("addr:10.0.0.9", "user:alice"), T0 + timedelta(minutes=3)) is not None
    assert throttle.retry_after(("addr:10.0.0.9", "user:bob"), T0 + timedelta(minutes=3)) is None
    # the oldest failure leaves the window at 15 minutes: one more try is allowed
    assert throttle.retry_after(keys, T0 + timedelta(minutes=15)) is None
    throttle.succeeded(keys)
    assert throttle.retry_after(keys, T0 + timedelta(minutes=3)) is None


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
