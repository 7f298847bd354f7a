"""The simulator's records (orders, suborders, links) and their Truv JSON shapes.

Statuses are computed on read from `now`, so time passing needs no threads or timers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from monitor.sandbox.order_shapes import LinkJson, OrderJson, SuborderJson

SCENARIOS = ("ok", "login_error", "mfa_error", "account_locked", "unavailable", "no_data", "flaky")
# How a suborder's `status` reads once its task ended: "standard" maps the task's status onto
# the suborder enum; "sent_with_last_task" keeps `sent` and puts the outcome in
# `last_task_status` only (seen in an assets sample, truv-api.md section 10).
STATUS_STYLES = ("standard", "sent_with_last_task")
PRODUCTS = ("income", "employment", "assets", "insurance", "transactions")
# Products whose refresh touches employers vs financial accounts.
FINANCIAL_PRODUCTS = frozenset({"assets", "transactions"})

Kind = Literal["employer", "financial_account"]
# The borrower invitation's default lifetime (truv-api.md section 3): `expired_at` is this long
# after the order's creation unless something set it earlier.
INVITATION_LIFETIME = timedelta(hours=72)


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with a `Z` suffix, as Truv's examples show."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no timezone; use e.g. 2024-01-01T00:00:00Z")
    return moment


def task_outcome(scenario: str, attempt: int) -> str:
    """Terminal task status of refresh number `attempt` (0-based) on a link with `scenario`."""
    if scenario == "ok":
        return "done"
    if scenario == "flaky":
        return "unavailable" if attempt == 0 else "done"
    return scenario


def suborder_status(task_status: str) -> str:
    """Map a terminal task status to the employer/suborder status enum."""
    if task_status == "done":
        return "completed"
    if task_status == "no_data":
        return "no_data"
    return "error"


@dataclass(slots=True)
class Task:
    """One task on a link; seeded connections get a `done` task at their `completed_at`."""

    finishes_at: datetime
    status: str

    def finished(self, now: datetime) -> bool:
        return self.finishes_at <= now


@dataclass(slots=True)
class Link:
    id: str
    access_token: str
    user_id: str
    scenario: str
    kind: Kind
    created_at: datetime
    refresh_attempts: int = 0
    tasks: list[Task] = field(default_factory=list)
    deleted_at: datetime | None = None
    # The link's refresh tasks in order (also in `tasks`): refresh N is refresh_tasks[N - 1].
    refresh_tasks: list[Task] = field(default_factory=list)

    def last_data_task(self, now: datetime) -> Task | None:
        """The newest task that ended `done` by `now`: the data a report shows."""
        done = [task for task in self.tasks if task.finishes_at <= now and task.status == "done"]
        return max(done, key=lambda task: task.finishes_at, default=None)

    def is_deleted(self, now: datetime) -> bool:
        return self.deleted_at is not None and self.deleted_at <= now

    def last_task(self, now: datetime) -> Task | None:
        finished = [task for task in self.tasks if task.finishes_at <= now]
        return max(finished, key=lambda task: task.finishes_at, default=None)

    def to_json(self, now: datetime) -> LinkJson:
        last = self.last_task(now)
        deleted = self.deleted_at if self.is_deleted(now) else None
        moments = [self.created_at, *(m for m in (last.finishes_at if last else None, deleted) if m is not None)]
        provider_id, provider_name = provider_of(self.kind)
        return {
            "id": self.id,
            # Truv masks the token unless the list is filtered by user_id.
            "access_token": "****" + self.access_token[-4:],
            "created_at": iso(self.created_at),
            "updated_at": iso(max(moments)),
            "deleted_at": iso(deleted) if deleted else None,
            "tracking_info": None,
            # The seeding connection itself finished `done`.
            "status": last.status if last else "done",
            "provider_id": provider_id,
            "provider": {"id": provider_id, "name": provider_name},
            "data_source": data_source_of(self.kind),
            "allowed_products": allowed_products_of(self.kind),
            "is_suspicious": False,
        }


def provider_of(kind: Kind) -> tuple[str, str]:
    if kind == "employer":
        return "truv_payroll", "Truv Payroll Provider"
    return "truv_bank", "Truv Bank Provider"


def data_source_of(kind: Kind) -> str:
    return "payroll" if kind == "employer" else "financial_accounts"


def allowed_products_of(kind: Kind) -> list[str]:
    return ["income", "employment"] if kind == "employer" else ["assets", "transactions"]


@dataclass(slots=True)
class Suborder:
    """An employer or financial account of one order and the task that collects its data.

    Seeded suborders have a `done` task finishing at their `completed_at`; a refresh
    suborder's task is the refresh task of its link.
    """

    id: str
    suborder_number: str
    link: Link
    company: str
    kind: Kind
    created_at: datetime
    task: Task
    status_style: str = "standard"

    def status(self, now: datetime) -> str:
        if self.status_style == "sent_with_last_task":
            return "sent"
        if not self.task.finished(now):
            return "pending"
        return suborder_status(self.task.status)

    def last_task_status(self, now: datetime) -> str | None:
        return self.task.status if self.task.finished(now) else None

    def data_completed_at(self, now: datetime) -> datetime | None:
        """When this suborder's data was collected (its task ended `done`), whatever `status` says."""
        return self.task.finishes_at if self.task.finished(now) and self.task.status == "done" else None

    def completed_at(self, now: datetime) -> datetime | None:
        """The opt-in suborder `completed_at` (scenario `suborder_completed_at`): set only while
        `status` reads `completed`. Truv documents none on a suborder."""
        return self.data_completed_at(now) if self.status(now) == "completed" else None

    def ended_at(self, now: datetime) -> datetime | None:
        """When its task reached a terminal status (any), None while it runs."""
        return self.task.finishes_at if self.task.finished(now) else None

    def updated_at(self, now: datetime) -> datetime:
        """Not shown (no suborder `updated_at` is documented); it moves the order's `updated_at`."""
        return self.task.finishes_at if self.task.finished(now) else self.created_at

    def to_json(self, now: datetime, *, with_completed_at: bool = False) -> SuborderJson:
        """The documented suborder: `created_at` is its only timestamp (orders_read example);
        `with_completed_at` adds the opt-in `completed_at` (scenario `suborder_completed_at`)."""
        provider_id, provider_name = provider_of(self.kind)
        body: SuborderJson = {
            "id": self.id,
            "suborder_number": self.suborder_number,
            "status": self.status(now),
            "last_task_status": self.last_task_status(now),
            "created_at": iso(self.created_at),
            "link_id": self.link.id,
            "access_token": self.link.access_token,
            "provider": {"id": provider_id, "name": provider_name},
            "data_source": data_source_of(self.kind),
            "company": {"name": self.company},
        }
        if with_completed_at:
            completed = self.completed_at(now)
            body["completed_at"] = iso(completed) if completed else None
        return body


@dataclass(slots=True)
class Order:
    id: str
    products: tuple[str, ...]
    order_number: str | None
    user_id: str
    first_name: str
    last_name: str
    created_at: datetime
    root_id: str
    employers: list[Suborder] = field(default_factory=list)
    financial_accounts: list[Suborder] = field(default_factory=list)
    initial_order: str | None = None
    refresh_order: str | None = None
    touched_at: datetime | None = None
    # Drawn when the order is made; shown once a suborder of that group has completed data.
    voie_report_id: str | None = None
    voa_report_id: str | None = None
    # Set by `expire_order` / seeded `expired`: the invitation expired earlier than its 72 h.
    expired_at: datetime | None = None
    finalized_at: datetime | None = None
    forbidden: bool = False
    # Finalize this (original) order when its Nth refresh order is created; None: never.
    finalize_at_refresh: int | None = None
    refresh_ids: list[str] = field(default_factory=list)

    def suborders(self) -> list[Suborder]:
        return [*self.employers, *self.financial_accounts]

    def invitation_expires_at(self) -> datetime:
        """The borrower invitation's expiry: 72 h after creation, or earlier when set so."""
        default = self.created_at + INVITATION_LIFETIME
        return min(default, self.expired_at) if self.expired_at is not None else default

    def is_expired(self, now: datetime) -> bool:
        """The invitation has expired; says nothing about the order's data or its refreshes."""
        return self.invitation_expires_at() <= now

    def is_finalized(self, now: datetime) -> bool:
        return self.finalized_at is not None and self.finalized_at <= now

    def completed_at(self, now: datetime) -> datetime | None:
        """The order-level `completed_at`: the moment every suborder's task had reached a terminal
        status with at least one `done` (data in); None while any runs or when none brought data.
        For a seeded order that is when its data was collected (the latest of its connections)."""
        ends = [s.ended_at(now) for s in self.suborders()]
        if not ends or any(end is None for end in ends):
            return None
        if not any(s.data_completed_at(now) for s in self.suborders()):
            return None
        return max(end for end in ends if end is not None)

    def updated_at(self, now: datetime) -> datetime:
        """Moves for more than data: a suborder's end, a refresh made from it, the invitation's
        expiry, finalization (so an old order that was refreshed reads later than its completed_at)."""
        moments = [self.created_at, *(s.updated_at(now) for s in self.suborders())]
        expiry = self.invitation_expires_at()
        moments += [m for m in (self.touched_at, expiry, self.finalized_at) if m is not None and m <= now]
        return max(moments)

    def report_id(self, group: list[Suborder], report_id: str | None, now: datetime) -> str | None:
        return report_id if any(s.data_completed_at(now) for s in group) else None

    def to_json(self, now: datetime, *, suborder_completed_at: bool = False) -> OrderJson:
        completed = self.completed_at(now)
        return {
            "id": self.id,
            "products": list(self.products),
            "source": "internal",
            "order_number": self.order_number,
            "user_id": self.user_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at(now)),
            "completed_at": iso(completed) if completed else None,
            "canceled_at": None,
            # "Date and time when order would expire": shown before it passes too.
            "expired_at": iso(self.invitation_expires_at()),
            "is_expired": self.is_expired(now),
            "initial_order": self.initial_order,
            "refresh_order": self.refresh_order,
            "voie_report_id": self.report_id(self.employers, self.voie_report_id, now),
            "voa_report_id": self.report_id(self.financial_accounts, self.voa_report_id, now),
            "employers": [s.to_json(now, with_completed_at=suborder_completed_at) for s in self.employers],
            "financial_accounts": [
                s.to_json(now, with_completed_at=suborder_completed_at) for s in self.financial_accounts
            ],
        }
