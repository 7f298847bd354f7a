"""`v1=` + hex HMAC-SHA256 of the raw body, keyed with a shared secret.

Truv signs its webhooks so (X-WEBHOOK-SIGN) and monitor signs its hand-offs to the lender the same way
(X-MONITOR-SIGN), so one implementation serves the receiver and the outbox.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """Constant-time; computed over the raw bytes, never over re-serialised JSON."""
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())
