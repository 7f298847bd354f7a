"""Task/link/suborder status -> what the job does next (DESIGN.md, failure outcomes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class Outcome(StrEnum):
    COMPLETED = "completed"
    REAUTH = "needs_reauth"
    RETRY = "retry_later"
    MANUAL = "manual_review"
    PENDING = "pending"


_REAUTH = {"login_error", "mfa_error", "account_locked", "unable_to_reset"}
_RETRY = {"unavailable", "error"}
_MANUAL = {"no_data", "not_supported", "config_error", "canceled", "expired", "skipped"}
_DONE = {"done", "completed"}
_PENDING = {"pending", "sent", "new", "login", "mfa", "parse", "base_parse", "full_parse"}


def classify(status: str | None) -> Outcome:
    """Unknown statuses go to manual review: guessing a retry could spend budget for nothing."""
    value = (status or "").strip().lower()
    if value in _DONE:
        return Outcome.COMPLETED
    if value in _REAUTH:
        return Outcome.REAUTH
    if value in _RETRY:
        return Outcome.RETRY
    if value in _PENDING:
        return Outcome.PENDING
    return Outcome.MANUAL


RETRY_BASE = timedelta(hours=6)
RETRY_CAP = timedelta(hours=72)


def retry_at(failures: int, now: datetime) -> datetime:
    """Provider-side failures back off 6 h, 12 h, 24 h, ... capped at 72 h."""
    doublings = min(max(0, failures - 1), 16)  # far past the cap already; more would overflow timedelta
    return now + min(RETRY_BASE * (1 << doublings), RETRY_CAP)
