"""The schema. Access tokens are never stored: only their SHA-256 (see monitor.truv.secrets)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Table, Text
from sqlmodel import AutoString, Field, SQLModel

from monitor.store.types import UTCDateTime


def _ts(nullable: bool = True, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Loan(SQLModel, table=True):
    __tablename__ = "loan"
    __table_args__ = (
        Index("ix_loan_status_data", "status", "data_as_of"),
        Index("ix_loan_status_closing", "status", "closing_date"),
        # Loans set aside (a few among many): `reauth list`, status and the console find them without a scan.
        Index("ix_loan_status_hold", "status", "hold"),
        # Prefix search of loan and order ids: migration 0013 indexes loan_id, order_id, original_order_id
        # and base_order_id (and truv_order.id), on Postgres as `column COLLATE "C"`, which no Index here
        # can declare for both dialects.
        # The order list's sync matches a page of Truv's orders to loans by id (imported or original).
        Index("ix_loan_order", "order_id"),
        Index("ix_loan_original_order", "original_order_id"),
    )
    loan_id: str = Field(primary_key=True, max_length=128)
    # The order as imported. Every refresh is a POST to the original order (DESIGN.md rule 6): this one,
    # or the origin Truv names when the imported id is itself a refresh order (`original_order_id`).
    order_id: str = Field(max_length=64)
    original_order_id: str | None = Field(default=None, max_length=64)
    # The newest refresh order that completed: where fresh data is read, never a POST target.
    base_order_id: str | None = Field(default=None, max_length=64)
    gse: bool = False
    status: str = Field(default="active", max_length=16)
    closing_date: date | None = None
    # As imported (the lender's word) until the order is read; then the oldest connection's date.
    data_as_of: datetime | None = Field(default=None, sa_column=_ts())
    # Each product keeps its own data date: the oldest of its connections (rule 10).
    data_as_of_employers: datetime | None = Field(default=None, sa_column=_ts())
    data_as_of_accounts: datetime | None = Field(default=None, sa_column=_ts())
    data_as_of_insurance: datetime | None = Field(default=None, sa_column=_ts())
    # The start of Truv's free GSE window: the original order's `completed_at` (None while nothing completed).
    gse_window_start: datetime | None = Field(default=None, sa_column=_ts())
    # Set aside until someone acts: needs_new_order (finalized, canceled, link deleted) or manual_review.
    hold: str | None = Field(default=None, max_length=32)
    hold_reason: str | None = Field(default=None, max_length=64)
    hold_since: datetime | None = Field(default=None, sa_column=_ts())
    details_fetched_at: datetime | None = Field(default=None, sa_column=_ts())
    next_attempt_at: datetime | None = Field(default=None, sa_column=_ts())
    attention: str | None = Field(default=None, max_length=64)
    imported_at: datetime = Field(sa_column=_ts(nullable=False))
    updated_at: datetime = Field(sa_column=_ts(nullable=False))


class LoanAttribute(SQLModel, table=True):
    __tablename__ = "loan_attribute"
    __table_args__ = (Index("ix_loan_attribute_kv", "key", "value", "loan_id"),)
    loan_id: str = Field(primary_key=True, foreign_key="loan.loan_id", max_length=128)
    key: str = Field(primary_key=True, max_length=128)
    value: str = Field(max_length=512)  # lower case: what a policy's `match` is compared with
    shown: str | None = Field(default=None, max_length=512)  # as the loans file spelt it, when that differs


class TruvOrder(SQLModel, table=True):
    __tablename__ = "truv_order"
    id: str = Field(primary_key=True, max_length=64)
    loan_id: str = Field(index=True, max_length=128)
    initial_order: str | None = Field(default=None, max_length=64)
    refresh_order: str | None = Field(default=None, max_length=64)
    products: str = Field(max_length=128)
    user_id: str | None = Field(default=None, max_length=64)
    order_number: str | None = Field(default=None, max_length=128)
    created_at: datetime | None = Field(default=None, sa_column=_ts())
    fetched_at: datetime = Field(sa_column=_ts(nullable=False))
    # The ids a lender submits to DU / LPA; every refresh order carries new ones.
    voie_report_id: str | None = Field(default=None, max_length=64)
    voa_report_id: str | None = Field(default=None, max_length=64)


class LoanConnection(SQLModel, table=True):
    """One employer, financial account or insurance item of the loan's original order, with its own data date.

    `suborder_id` is the original order's: refresh filters name it (DESIGN.md rule 6).
    """

    __tablename__ = "loan_connection"
    loan_id: str = Field(primary_key=True, max_length=128)
    suborder_id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # employer | account | insurance
    suborder_number: str | None = Field(default=None, max_length=64)
    token_hash: str = Field(index=True, max_length=64)
    link_id: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=32)
    data_as_of: datetime | None = Field(default=None, sa_column=_ts())


class Connection(SQLModel, table=True):
    """State of one borrower connection (one access token), shared by every loan that uses it."""

    __tablename__ = "connection"
    __table_args__ = (Index("ix_connection_state", "state"),)  # the few needing someone, among every connection
    token_hash: str = Field(primary_key=True, max_length=64)
    link_id: str | None = Field(default=None, max_length=64)
    user_id: str | None = Field(default=None, max_length=64)
    # ok | needs_reauth | retry_later | manual_review | needs_new_order (link deleted)
    state: str = Field(default="ok", max_length=32)
    reason: str | None = Field(default=None, max_length=64)
    since: datetime | None = Field(default=None, sa_column=_ts())
    failures: int = 0
    retry_after: datetime | None = Field(default=None, sa_column=_ts())
    blocked_until: datetime | None = Field(default=None, sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts(nullable=False))


class Reservation(SQLModel, table=True):
    """The write-ahead ledger: one row per refresh request that may reach Truv."""

    __tablename__ = "reservation"
    __table_args__ = (
        Index("ix_reservation_loan_state", "loan_id", "state"),
        Index("ix_reservation_state", "state"),
        Index("ix_reservation_gse", "gse", "loan_id", "reserved_at"),
        Index("ix_reservation_billable", "billable", "reserved_at"),
    )
    id: str = Field(primary_key=True, max_length=32)
    run_id: str = Field(index=True, max_length=32)
    job: str = Field(max_length=128)
    policy: str = Field(max_length=128)
    loan_id: str = Field(max_length=128)
    product: str = Field(max_length=32)
    parent_order_id: str = Field(max_length=64)
    gse: bool = False
    billable: bool = False
    # reserved -> sent -> accepted -> completed | failed ; or unknown -> accepted | lost ;
    # refused (Truv's limit or a 429: counts) ; declined (refused outright, no order made) and released
    # (provably never sent): the two states that stop counting
    state: str = Field(max_length=16)
    reserved_at: datetime = Field(sa_column=_ts(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=_ts())
    settled_at: datetime | None = Field(default=None, sa_column=_ts())
    refresh_order_id: str | None = Field(default=None, index=True, max_length=64)
    outcome: str | None = Field(default=None, max_length=32)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    suborders: str = Field(default="", sa_column=Column(Text, nullable=False))


class ReservationToken(SQLModel, table=True):
    __tablename__ = "reservation_token"
    __table_args__ = (Index("ix_reservation_token_window", "token_hash", "reserved_at"),)
    reservation_id: str = Field(primary_key=True, foreign_key="reservation.id", max_length=32)
    token_hash: str = Field(primary_key=True, max_length=64)
    # The moment this use counts from in the 24 h window (rule 12): the latest moment the request may
    # have reached Truv (its send time, Truv's `created_at` of the refresh) plus the clock-skew margin.
    reserved_at: datetime = Field(sa_column=_ts(nullable=False))
    counts: bool = True


class Run(SQLModel, table=True):
    __tablename__ = "run"
    run_id: str = Field(primary_key=True, max_length=32)
    job: str = Field(index=True, max_length=128)
    holder: str = Field(max_length=256)
    started_at: datetime = Field(sa_column=_ts(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=_ts())
    status: str = Field(max_length=16)  # running | finished | failed
    summary: str | None = Field(default=None, sa_column=Column(Text))


class Lease(SQLModel, table=True):
    __tablename__ = "lease"
    job: str = Field(primary_key=True, max_length=128)
    holder: str = Field(max_length=256)
    run_id: str = Field(max_length=32)
    expires_at: datetime = Field(sa_column=_ts(nullable=False))


class Event(SQLModel, table=True):
    """Every decision and outcome, in order: what compliance reads back."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_loan", "loan_id", "id"),
        Index("ux_event_seq", "seq", unique=True),
        # The console's audit page reads by time, for every kind or one (migration 0013).
        Index("ix_event_at_seq", "at", "seq"),
        Index("ix_event_kind_at", "kind", "at", "seq"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_ts(nullable=False))
    run_id: str | None = Field(default=None, index=True, max_length=32)
    loan_id: str | None = Field(default=None, max_length=128)
    reservation_id: str | None = Field(default=None, max_length=32)
    kind: str = Field(max_length=32)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    # The audit chain: each entry's hash covers its fields and the previous entry's hash.
    seq: int | None = Field(default=None)
    actor: str | None = Field(default=None, max_length=128)
    purpose: str | None = Field(default=None, max_length=160)
    version: str | None = Field(default=None, max_length=32)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class AuditHead(SQLModel, table=True):
    """Row 1: the chain's newest entry, locked by each append, so entries chain in one order.

    Row 2, once MONITOR_AUDIT_KEY is adopted: the seal (seq: the first keyed entry; hash: an HMAC over
    row 1). See monitor.store.audit.
    """

    __tablename__ = "audit_head"
    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default="0" * 64, max_length=64)


class AuditCheckpoint(SQLModel, table=True):
    """What a purge removed, signed: verification of the remaining chain starts from here."""

    __tablename__ = "audit_checkpoint"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    removed_before: datetime = Field(sa_column=_ts(nullable=False))
    through_seq: int
    through_hash: str = Field(max_length=64)
    removed_count: int
    actor: str = Field(max_length=128)
    signature: str = Field(max_length=80)


class Pace(SQLModel, table=True):
    """The next free request slot per Truv secret, shared by every process using this database."""

    __tablename__ = "pace"
    key: str = Field(primary_key=True, max_length=64)
    next_slot: datetime = Field(sa_column=_ts(nullable=False))


class OrderSuborder(SQLModel, table=True):
    """The employers/accounts of a refresh order we created: what a webhook names by employer_id."""

    __tablename__ = "order_suborder"
    order_id: str = Field(primary_key=True, max_length=64)
    suborder_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)
    token_hash: str | None = Field(default=None, max_length=64)
    link_id: str | None = Field(default=None, index=True, max_length=64)
    status: str | None = Field(default=None, max_length=32)
    updated_at: datetime | None = Field(default=None, sa_column=_ts())


class WebhookEvent(SQLModel, table=True):
    """Every webhook received, stored before it is acknowledged (DESIGN.md rule 9)."""

    __tablename__ = "webhook_event"
    __table_args__ = (Index("ix_webhook_event_state", "state", "updated_at"),)
    id: int | None = Field(default=None, primary_key=True)
    webhook_id: str = Field(unique=True, max_length=255)  # whole: a longer id is refused (400), never cut
    event_type: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=160)
    updated_at: datetime | None = Field(default=None, sa_column=_ts())
    received_at: datetime = Field(sa_column=_ts(nullable=False))
    deliveries: int = 1
    # received -> applied | stale (older than what is applied) | unmatched (not ours) | recorded | ignored
    # | invalid (breaks the schema, or applying it failed: never applied, see `reason`)
    state: str = Field(default="received", max_length=16)
    applied_at: datetime | None = Field(default=None, sa_column=_ts())
    reason: str | None = Field(default=None, max_length=300)  # why `invalid`: field and rule, never a value
    body: str = Field(sa_column=Column(Text, nullable=False))


class WebhookCursor(SQLModel, table=True):
    """The newest `updated_at` applied per target, so a late older event cannot overwrite state."""

    __tablename__ = "webhook_cursor"
    target: str = Field(primary_key=True, max_length=160)
    updated_at: datetime = Field(sa_column=_ts(nullable=False))


class Outbox(SQLModel, table=True):
    """Hand-offs to the lender's system, delivered with retries; the key makes repeats harmless."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "delivered_at", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    idempotency_key: str = Field(unique=True, max_length=160)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=_ts(nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=_ts())
    last_error: str | None = Field(default=None, max_length=300)


class LoanClaim(SQLModel, table=True):
    """Which pass is working a loan: instances sharing a job split it; a claim dies with its holder."""

    __tablename__ = "loan_claim"
    loan_id: str = Field(primary_key=True, max_length=128)
    run_id: str = Field(index=True, max_length=32)
    holder: str = Field(max_length=256)
    expires_at: datetime = Field(sa_column=_ts(nullable=False, index=True))


class ReportDue(SQLModel, table=True):
    """A completed refresh whose link report must be read and compared (DESIGN.md rule 14).

    Written with the outcome (by a poll or a webhook); read by the next pass, never by the receiver.
    """

    __tablename__ = "report_due"
    __table_args__ = (Index("ix_report_due_state", "state", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    loan_id: str = Field(max_length=128)
    token_hash: str = Field(max_length=64)
    link_id: str = Field(max_length=64)
    product: str = Field(max_length=32)
    policy: str = Field(max_length=128)  # whose monitoring thresholds apply
    refresh_order_id: str = Field(max_length=64)
    completed_at: datetime = Field(sa_column=_ts(nullable=False))
    state: str = Field(default="due", max_length=16)  # due | read | failed
    attempts: int = 0
    created_at: datetime = Field(sa_column=_ts(nullable=False))


class LinkSnapshot(SQLModel, table=True):
    """The few fields of one connection's report that monitoring compares. PII: purged with the audit detail."""

    __tablename__ = "link_snapshot"
    __table_args__ = (Index("ix_link_snapshot_conn", "loan_id", "token_hash", "as_of"),)
    id: int | None = Field(default=None, primary_key=True)
    loan_id: str = Field(max_length=128)
    token_hash: str = Field(max_length=64)
    refresh_order_id: str = Field(max_length=64)
    as_of: datetime = Field(sa_column=_ts(nullable=False))
    taken_at: datetime = Field(sa_column=_ts(nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))


class Finding(SQLModel, table=True):
    """A change since the last verification: what, how serious, before and after, which refreshes."""

    __tablename__ = "finding"
    __table_args__ = (Index("ix_finding_loan", "loan_id", "detected_at"), Index("ix_finding_detected", "detected_at"))
    id: int | None = Field(default=None, primary_key=True)
    loan_id: str = Field(max_length=128)
    rule: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    confidence: str = Field(default="confirmed", max_length=16)
    employment_id: str | None = Field(default=None, max_length=64)
    field: str | None = Field(default=None, max_length=64)
    before: str | None = Field(default=None, max_length=128)
    after: str | None = Field(default=None, max_length=128)
    order_id: str | None = Field(default=None, max_length=64)
    completed_at: datetime | None = Field(default=None, sa_column=_ts())
    previous_order_id: str | None = Field(default=None, max_length=64)
    previous_completed_at: datetime | None = Field(default=None, sa_column=_ts())
    detected_at: datetime = Field(sa_column=_ts(nullable=False))
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    # open -> acknowledged -> resolved, by an operator with a note (`monitor changes ack|resolve`).
    disposition: str = Field(default="open", sa_column=Column(AutoString(16), nullable=False, server_default="open"))
    disposition_note: str | None = Field(default=None, max_length=500)
    disposition_by: str | None = Field(default=None, max_length=128)
    disposition_at: datetime | None = Field(default=None, sa_column=_ts())


class ConsoleUser(SQLModel, table=True):
    """A person who may open the web console. Only a hash of the password is kept (argon2id)."""

    __tablename__ = "console_user"
    name: str = Field(primary_key=True, max_length=128)
    role: str = Field(max_length=16)
    password_hash: str | None = Field(default=None, max_length=256)  # None: signs in only through the proxy
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    disabled_at: datetime | None = Field(default=None, sa_column=_ts())


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random id; only its SHA-256 is kept, so a copy of the
    database cannot be replayed as a session."""

    __tablename__ = "console_session"
    id_hash: str = Field(primary_key=True, max_length=64)
    user_name: str = Field(index=True, max_length=128)
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    expires_at: datetime = Field(sa_column=_ts(nullable=False, index=True))


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a model, typed: SQLModel sets `__table__` at class creation, unseen by mypy."""
    return model.__table__  # type: ignore[attr-defined,no-any-return]


loan_table = table_of(Loan)
loan_attribute_table = table_of(LoanAttribute)
truv_order_table = table_of(TruvOrder)
loan_connection_table = table_of(LoanConnection)
connection_table = table_of(Connection)
reservation_table = table_of(Reservation)
reservation_token_table = table_of(ReservationToken)
run_table = table_of(Run)
lease_table = table_of(Lease)
event_table = table_of(Event)
audit_head_table = table_of(AuditHead)
audit_checkpoint_table = table_of(AuditCheckpoint)
pace_table = table_of(Pace)
order_suborder_table = table_of(OrderSuborder)
webhook_event_table = table_of(WebhookEvent)
webhook_cursor_table = table_of(WebhookCursor)
outbox_table = table_of(Outbox)
loan_claim_table = table_of(LoanClaim)
report_due_table = table_of(ReportDue)
link_snapshot_table = table_of(LinkSnapshot)
finding_table = table_of(Finding)
console_user_table = table_of(ConsoleUser)
console_session_table = table_of(ConsoleSession)


class OrderSyncCursor(SQLModel, table=True):
    """Where the last complete walk of Truv's order list began: the next reads only what changed since."""

    __tablename__ = "order_sync_cursor"
    name: str = Field(primary_key=True, max_length=32)
    walk_started_at: datetime = Field(sa_column=_ts(nullable=False))
    orders_seen: int = 0
    finished_at: datetime = Field(sa_column=_ts(nullable=False))
