"""Truv's money and date strings as values, and the relative fall between two amounts. A missing or
unreadable value is absent (None), never zero, so it can never look like a drop."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

_MONEY_NOISE = re.compile(r"[,\s$]")


def money(value: object) -> Decimal | None:
    """Truv's money strings ("70000.00", "70,000.00") as Decimal; anything unreadable is absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    text = _MONEY_NOISE.sub("", value)
    if not text:
        return None
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        return None
    return parsed if parsed.is_finite() else None


def day(value: object) -> date | None:
    """`2021-10-22` or `2018-05-15T00:00:00.000Z` as a date; anything else is absent."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def drop(old: Decimal | None, new: Decimal | None) -> Decimal | None:
    """The relative fall from old to new, when both are known and old is positive."""
    if old is None or new is None or old <= 0:
        return None
    return (old - new) / old
