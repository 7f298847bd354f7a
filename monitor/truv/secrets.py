"""Access tokens are credentials: we keep only their SHA-256, and show only its first 12 characters."""

from __future__ import annotations

import hashlib
import re
from typing import Any

SECRET_KEYS = frozenset(
    {"access_token", "bridge_token", "x-access-secret", "secret", "truv_secret", "public_token", "authorization"}
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def short(token_hash_value: str | None) -> str:
    return (token_hash_value or "")[:12]


_INLINE = re.compile(
    r'(?i)(["\']?(?:access_token|bridge_token|x-access-secret|public_token)["\']?(?:\s*[:=]\s*["\']?|\s+["\'`]))([^"\'`,\s}]+)'
)


def redact_text(text: str) -> str:
    """Mask secrets embedded in free text (e.g. an error body that echoes the request)."""
    return _INLINE.sub(lambda m: m.group(1) + "[redacted]", text)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "[redacted]" if str(k).lower() in SECRET_KEYS else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
