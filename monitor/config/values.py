"""The scalar values jobs.yaml writes as text: durations ("30d") and shares ("5%")."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: object) -> timedelta:
    """'90m', '24h', '30d', '2w' -> timedelta; anything else is refused."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f'expected a positive duration like "90m", "24h" or "30d", got {value!r}')
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_share(value: object) -> float:
    """'5%' or 0.05 -> 0.05: a share between 0 and 1 (exclusive of 0)."""
    if isinstance(value, bool):
        raise ValueError(f'expected a percentage like "5%" or a share like 0.05, got {value!r}')
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            share = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f'expected a percentage like "5%", got {value!r}') from None
    elif isinstance(value, int | float):
        share = float(value)
    else:
        raise ValueError(f'expected a percentage like "5%" or a share like 0.05, got {value!r}')
    if not 0 < share < 1:
        raise ValueError(f"expected more than 0% and less than 100%, got {value!r}")
    return share
