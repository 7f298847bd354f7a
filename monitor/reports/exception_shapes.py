"""The compliance report's exceptions, one TypedDict per kind: the loans someone must look at (a budget's
no, the backlog, persistent skips, connections needing the borrower, loans set aside)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from monitor.reports.evidence_shapes import PreClosingRow


class Blocked(TypedDict):
    loan_id: str | None
    rule: str
    at: datetime
    next_eligible: str | None  # as the skip's audit entry wrote it
    policy: str | None


class BacklogLoan(TypedDict):
    loan_id: str
    policies: list[str]
    reason: str
    data_as_of: datetime | None


class Backlog(TypedDict):
    total: int
    by_reason: dict[str, int]
    loans: list[BacklogLoan]


class PersistentSkip(TypedDict):
    loan_id: str
    times: int
    first: datetime
    reason: str
    policy: str | None
    last: datetime


class Waiting(TypedDict):
    """A connection needing the borrower."""

    loan_id: str
    connection: str
    reason: str | None
    since: datetime | None
    waiting_seconds: float | None
    waiting: str


class SetAside(TypedDict):
    loan_id: str
    needs: str
    reason: str | None
    since: datetime | None


class Exceptions(TypedDict):
    blocked: list[Blocked]
    backlog: Backlog
    persistent_skips: list[PersistentSkip]
    needs_reauth: list[Waiting]
    set_aside: list[SetAside]
    closed_without_verification: list[PreClosingRow]
    failures_by_status: dict[str, int]
