"""What each template reads, one TypedDict per page (besides `me`, `path` and `proxied`, which every
page gets): a handler that forgets a value, or passes one its page does not declare, fails mypy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import NotRequired, TypedDict

from monitor.console.paging import Pager
from monitor.reports.ledger_shapes import LedgerView
from monitor.reports.loan_shapes import LoanList, LoanShow
from monitor.reports.reauth_shapes import SetAsideLoan, WaitingConnection
from monitor.reports.status_shapes import StatusView
from monitor.store.console_reads import CheckpointRow, Found, TokenIssued

# A finding, an `audit verify` answer, a created token: as the layer below hands them out.
Record = Mapping[str, object]


class ErrorPage(TypedDict):
    title: str
    message: str


class LoginPage(TypedDict):
    csrf: str
    error: str | None
    next: str


class OverviewPage(TypedDict):
    data: StatusView
    read_at: datetime
    failed: dict[str, int]
    throttled: int
    severity: dict[str, int]
    chain: Record
    chain_checked_at: datetime


class LoansPage(TypedDict):
    """A search's matches (`query`, `found`), or a page of the list (`view` and the rest)."""

    query: str | None
    found: Found | None
    view: LoanList | None
    filters: dict[str, object]
    pager: NotRequired[Pager]
    read_at: NotRequired[datetime]
    policies: NotRequired[list[str]]
    reasons: NotRequired[list[str]]


class LoanPage(TypedDict):
    view: LoanShow


class QueueRow(WaitingConnection):
    issued: TokenIssued | None  # the token handed out since it began to wait, if any


class ReauthPage(TypedDict):
    rows: list[QueueRow]
    aside: list[SetAsideLoan]
    can_act: bool


class TokenConfirmPage(TypedDict):
    loan_id: str
    rows: list[WaitingConnection]
    issued: list[TokenIssued]
    seen: int
    again: bool


class TokenCreatedPage(TypedDict):
    loan_id: str
    tokens: Sequence[Record]


class ChangesPage(TypedDict):
    rows: Sequence[Record]
    severity: str | None
    since: date | None
    loan: str | None
    can_act: bool


class LedgerPage(TypedDict):
    view: LedgerView
    filters: dict[str, object]
    pager: Pager
    first_row: int


class AuditRow(TypedDict):
    seq: int
    at: datetime
    kind: str
    loan_id: str | None
    run_id: str | None
    actor: str | None
    detail: object  # its JSON read, else its text


class AuditPage(TypedDict):
    chain: Record
    checked_at: datetime
    checkpoints: list[CheckpointRow]
    entries: list[AuditRow]
    pager: Pager
    kinds: list[str]
    filters: dict[str, str]


class ReportsPage(TypedDict):
    start: date
    end: date
    closing: list[dict[str, object]]  # the pre-closing rows, their lists written out as text
