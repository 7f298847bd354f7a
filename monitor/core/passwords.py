"""Console passwords: scrypt (RFC 7914) from the standard library, salted, parameters kept with the hash.

The stored form is `scrypt$N$r$p$salt$hash` (salt and hash base64), so the cost can rise later without
invalidating older hashes: `verify` reads the parameters each hash was made with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

# OWASP's password storage floor for scrypt: N=2**17, r=8, p=1 (128 MiB, a few hundred ms per login).
N, R, P = 2**17, 8, 1
MIN_LENGTH = 12
_MAXMEM = 256 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_derive(password, salt, N, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    """False for a wrong password and for a stored value that is not one of ours (never an exception)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        got = _derive(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def password_problem(password: str, *, name: str) -> str | None:
    """Why a new password is refused, or None. Length over composition rules (NIST SP 800-63B)."""
    if len(password) < MIN_LENGTH:
        return f"at least {MIN_LENGTH} characters expected, got {len(password)}"
    if password.strip().lower() == name.strip().lower():
        return "the password must not be the user name"
    return None
