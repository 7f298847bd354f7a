"""Console passwords: argon2id through argon2-cffi, at OWASP's parameters (19 MiB, 2 passes, 1 lane).

argon2-cffi is the reference implementation's binding, kept by its authors: it writes the PHC string
(`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`, parameters kept with the hash), compares in constant time and
says when a hash was made with other parameters (`needs_rehash`), so the cost can change without
invalidating older hashes. Hashes made before it (`scrypt$N$r$p$salt$hash`, 128 MiB each) are still
verified, and rehashed to argon2id at the next successful sign-in.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1. Memory per check is what bounds
# how many checks the console may run at once (monitor.console.security.HASHES_AT_ONCE).
MEMORY_KIB, TIME_COST, PARALLELISM = 19 * 1024, 2, 1
MIN_LENGTH = 12
_SCRYPT_MAXMEM = 256 * 1024 * 1024
_HASHER = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _scrypt_ok(password: str, stored: str) -> bool:
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest, validate=True)
    got = hashlib.scrypt(
        password.encode("utf-8"),
        salt=base64.b64decode(salt, validate=True),
        n=int(n),
        r=int(r),
        p=int(p),
        maxmem=_SCRYPT_MAXMEM,
        dklen=32,
    )
    return hmac.compare_digest(got, expected)


def verify_password(password: str, stored: str) -> bool:
    """False for a wrong password and for a stored value that is not one of ours (never an exception)."""
    try:
        if stored.startswith("$argon2"):
            return _HASHER.verify(stored, password)
        return _scrypt_ok(password, stored)
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError, TypeError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for a hash not made with today's scheme and parameters (an scrypt hash, older argon2 costs)."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


@functools.cache
def dummy_hash() -> str:
    """What an unknown name is checked against, so that it costs the same as a wrong password."""
    return hash_password("not a password: no user has this hash")


def password_problem(password: str, *, name: str) -> str | None:
    """Why a new password is refused, or None. Length over composition rules (NIST SP 800-63B)."""
    if len(password) < MIN_LENGTH:
        return f"at least {MIN_LENGTH} characters expected, got {len(password)}"
    if password.strip().lower() == name.strip().lower():
        return "the password must not be the user name"
    return None
