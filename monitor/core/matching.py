"""Policy `match`: every key must match; a list means any of its values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def normalise(value: Any) -> str:
    """Compare as text, case-insensitively, so CSV strings and YAML booleans/numbers agree."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def matches(match: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    for key, wanted in match.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        have = fields.get(key)
        if have is None or normalise(have) not in {normalise(o) for o in options}:
            return False
    return True
