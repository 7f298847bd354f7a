"""What each kind of audit entry records beyond its columns (run, loan, reservation, purpose): one
TypedDict per kind, dumped as it is into the entry's `detail` (sorted keys). A key marked NotRequired is
written only by the entries that have it, so every entry's JSON is what it always was."""

from __future__ import annotations

from datetime import datetime
from typing import NotRequired, TypedDict

from monitor.core.refresh_choice import SkipDetail


class Skipped(SkipDetail):
    """`skipped`: a loan the pass did not refresh, with its reason (a SkipReason)."""

    policy: str | None
    reason: str


class Reserved(TypedDict):
    policy: str
    product: str
    tokens: list[str]  # each token hash's first 12 characters
    billable: bool
    partial: bool


class Submitted(TypedDict):
    refresh_order_id: str
    original_order_id: str | None
    product: str
    filters: dict[str, int]  # per suborder kind, how many suborders the refresh names


class NotSubmitted(TypedDict):
    """A reservation's state after its POST failed (declined, refused, unknown...)."""

    outcome: str
    detail: str


class SuborderNote(TypedDict):
    status: str
    token: str


class Outcome(TypedDict):
    refresh_order_id: str
    outcome: str
    voie_report_id: NotRequired[str | None]
    voa_report_id: NotRequired[str | None]
    suborders: NotRequired[list[SuborderNote]]


class ReportIds(TypedDict):
    refresh_order_id: str
    voie_report_id: str | None
    voa_report_id: str | None


class Reconciled(TypedDict):
    refresh_order_id: NotRequired[str]
    found: bool


class DetailsFetched(TypedDict):
    original_order_id: str
    newest_order_id: str | None
    gse_window_start: datetime | None


class Held(TypedDict):
    reason: str
    note: str


class Released(TypedDict):
    hold: str | None
    reason: str | None
    note: str


class NeedsNewOrder(TypedDict):
    reason: str


class DataChanged(TypedDict):
    webhook: object  # as the event gave them
    event_type: object


class ReauthTokenCreated(TypedDict):
    token: str
    reason: str | None
    product: str


class LoansImported(TypedDict):
    file: str
    rows: int
    inserted: int
    updated: int
    closed: int
    full_snapshot: bool
    forced: bool
    dedupe: str | None
    dropped: int


class FindingRecorded(TypedDict):
    """`finding`: a change income monitoring found."""

    rule: str
    severity: str
    confidence: str
    employment_id: str | None
    field: str | None
    order_id: str | None
    previous_order_id: str | None


class FindingDisposed(TypedDict):
    """`finding_acknowledged`, `finding_resolved`: an operator moved a finding."""

    finding_id: int | None
    rule: str
    severity: str
    before: str
    note: str
    by: str


class AuditSealed(TypedDict):
    keyed_from: int


class MonitoringPurged(TypedDict):
    snapshots_removed: int
    findings_removed: int
    reports_due_removed: int


class Purged(MonitoringPurged):
    removed_before: str
    removed: int
    through_seq: int | None
    webhook_events_removed: int
    forced: bool


AuditDetail = (
    Skipped
    | Reserved
    | Submitted
    | NotSubmitted
    | Outcome
    | ReportIds
    | Reconciled
    | DetailsFetched
    | Held
    | Released
    | NeedsNewOrder
    | DataChanged
    | ReauthTokenCreated
    | LoansImported
    | FindingRecorded
    | FindingDisposed
    | AuditSealed
    | Purged
)
