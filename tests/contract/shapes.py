"""Truv's documented shapes of everything monitor reads or receives, in our own words (issue 21, point 9b).

Each model names the docs page it transcribes in `SOURCE`. Models are strict: names, types and nullability
as documented; a field documented as nullable is `X | None`; a field that may be left out entirely has a
default. `extra="allow"` only where the page documents more fields than we model (the order, its suborders,
the Link object, the reports); elsewhere an unknown field is an error, so a drift shows.

Where a page could not be read whole, or a fact is a reading rather than a statement, a comment says so
(truv-api.md tags: [doc], [code], [inferred]).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

DOCS = "https://docs.truv.com"


def _timestamp(value: str) -> str:
    """ISO-8601 with a zone: Truv writes `...Z` (orders, events) and `...+00:00` (webhook updated_at)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no zone")
    return value


def _date(value: str) -> str:
    """A calendar date (`2021-10-22`) or a timestamp (`2018-05-15T00:00:00.000Z`): both appear in examples."""
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def _money(value: str) -> str:
    """Money is a string such as "70000.00" (truv-api.md section 9): parse as Decimal, never float."""
    try:
        Decimal(value)
    except InvalidOperation:
        raise ValueError(f"money {value!r} is not a decimal string") from None
    return value


Timestamp = Annotated[str, AfterValidator(_timestamp)]
Date = Annotated[str, AfterValidator(_date)]
Money = Annotated[str, AfterValidator(_money)]

Product = Literal["income", "employment", "assets", "insurance", "transactions"]
BridgeProduct = Literal["income", "employment", "assets", "insurance", "transactions", "deposit_switch", "pll", "admin"]
DataSource = Literal["payroll", "docs", "insurance", "financial_accounts", "tax"]
# Employer / suborder status enum (orders object page).
SuborderStatus = Literal["pending", "sent", "completed", "error", "canceled", "expired", "no_data", "skipped"]
# Task lifecycle (tasks/lifecycle): in-progress steps, then `done` or one of nine errors.
TaskProgress = Literal["new", "login", "mfa", "parse", "base_parse", "full_parse", "switch_deposit"]
TaskFailure = Literal[
    "login_error",
    "mfa_error",
    "config_error",
    "account_locked",
    "unable_to_reset",
    "no_data",
    "unavailable",
    "error",
    "not_supported",
]
TaskTerminal = Literal["done"] | TaskFailure
TaskStatus = TaskProgress | TaskTerminal


class Strict(BaseModel):
    """The page lists every field: anything else is a drift."""

    model_config = ConfigDict(strict=True, extra="forbid")
    SOURCE: ClassVar[str] = ""


class Open(BaseModel):
    """The page documents more fields than monitor reads: those are allowed, ours are exact."""

    model_config = ConfigDict(strict=True, extra="allow")
    SOURCE: ClassVar[str] = ""


# ---- orders ---------------------------------------------------------------------------------------------


class Suborder(Open):
    """An item of `employers[]` (or `financial_accounts[]`): a suborder.

    `created_at` is its only documented timestamp: no `completed_at`, no `updated_at` (orders_read example).
    The page also documents product type, an external ID, `bridge_token`, a report PDF URL, `provider`,
    `company_mapping_id`, start/end dates and company details, whose exact key names we did not all see:
    hence `extra="allow"`.
    """

    SOURCE = f"{DOCS}/api-reference/orders/orders_read"

    id: str
    status: SuborderStatus
    created_at: Timestamp
    # [inferred] returned here: the refresh request accepts it, so it names the suborder.
    suborder_number: str | None = None
    # "Link ID for the connected account"; null until a connection exists.
    link_id: str | None = None
    # "Access token to perform data refresh": a secret; never logged or stored in the clear.
    access_token: str | None = None
    data_source: DataSource | None = None
    # Seen in an assets sample (truv-api.md section 10): the status of the suborder's last task.
    last_task_status: TaskStatus | None = None
    is_suspicious: bool | None = None
    employments: list[Any] | None = None


class Order(Open):
    """`GET /v1/orders/{id}/` ("Retrieve an order", orders_read).

    The data date is the order-level `completed_at`; `expired_at` / `is_expired` are the borrower
    invitation's ("Date and time when order would expire", "If order is already expired"), not the end of
    the data: the documented example is a completed, refreshed order with `is_expired: true`.
    `updated_at` moves for other reasons (reminders, a refresh made from it) and is never a data date.
    """

    SOURCE = f"{DOCS}/api-reference/orders/orders_read"

    id: str
    products: list[Product]
    order_number: str | None
    user_id: str | None
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None
    expired_at: Timestamp | None
    is_expired: bool
    # "ID of origin Order" (null on an original) / "ID of last refresh Order created" from this one.
    initial_order: str | None
    refresh_order: str | None
    employers: list[Suborder]
    # [inferred] in the reduced refresh example; named by the refresh request and the order events.
    financial_accounts: list[Suborder] | None = None
    canceled_at: Timestamp | None = None
    user_consent_at: Timestamp | None = None
    source: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    template_id: str | None = None
    # The GSE report ids a lender submits to DU / LPA; a refresh order carries new ones.
    voie_report_id: str | None = None
    voa_report_id: str | None = None


class RefreshOrder(Order):
    """`POST /v1/orders/{id}/` (orders_create_refresh_order): a new Order whose `initial_order` is the origin.

    The success status (200 or 201) is not documented. `order_number` carries over from the original.
    """

    SOURCE = f"{DOCS}/api-reference/orders/orders_create_refresh_order"

    initial_order: str


class OrderList(Strict):
    """`GET /v1/orders/` (List orders). [inferred] The `{count, next, previous, results}` page is what list
    endpoints answer in Truv's code; the orders list's filters and page size were not found.
    `POST /v1/orders/lookup/` appears in third-party collections only; its answer's shape was not found, so
    it is not modelled."""

    SOURCE = f"{DOCS}/api-reference/orders/orders_list"

    count: int
    next: str | None
    previous: str | None
    results: list[Order]


# ---- links and their reports ----------------------------------------------------------------------------


class Link(Open):
    """`GET /v1/links/{link_id}/`: one persistent connection per provider per user.

    `access_token` is masked (e.g. `****7610`) unless the list is filtered by user_id; `status` is the status
    of the link's last task; `deleted_at` is set once the link is deleted. The page also documents
    `company_mapping`, `link_hash` and others (extra allowed)."""

    SOURCE = f"{DOCS}/api-reference/links/links-item"

    id: str
    access_token: str
    created_at: Timestamp
    updated_at: Timestamp
    deleted_at: Timestamp | None
    tracking_info: str | None
    status: TaskStatus
    provider_id: str | None = None
    provider: dict[str, Any] | None = None
    allowed_products: list[str] | None = None
    data_source: DataSource | None = None
    is_suspicious: bool | None = None


class Address(Open):
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None


class Company(Open):
    name: str
    address: Address | None = None
    phone: str | None = None
    ein: str | None = None


class Statement(Open):
    """A pay statement (statements object). Money values are strings."""

    SOURCE = f"{DOCS}/api-reference/statements/object"

    id: str
    pay_date: Date
    period_start: Date | None
    period_end: Date | None
    gross_pay: Money | None
    net_pay: Money | None
    gross_pay_ytd: Money | None = None
    net_pay_ytd: Money | None = None
    regular: Money | None = None
    bonus: Money | None = None
    commission: Money | None = None
    overtime: Money | None = None
    hours: Money | None = None
    basis_of_pay: Literal["S", "H", "D", "W", "M", "C"] | None = None
    earnings: list[dict[str, Any]] | None = None  # documented `earnings[]`; its lines' keys are not


class Employment(Open):
    """An item of a report's `employments[]` (employment object). A rehire is a new entry; a promotion
    updates the existing one. `income`/`pay_rate` are null in the employment (VOE) report."""

    SOURCE = f"{DOCS}/api-reference/employment/object"

    id: str
    is_active: bool | None
    start_date: Date | None
    end_date: Date | None
    company: Company
    job_title: str | None = None
    job_type: Literal["F", "P", "S", "D", "C", "V"] | None = None
    income: Money | None = None
    income_unit: Literal["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY"] | None = None
    pay_rate: Money | None = None
    pay_frequency: Literal["M", "SM", "W", "BW", "A", "C"] | None = None
    original_hire_date: Date | None = None
    derived_fields: list[str] | None = None
    missing_data_fields: list[str] | None = None
    statements: list[Statement] | None = None


class LinkReport(Open):
    """`GET /v1/links/{link_id}/income/report/` (VOIE) and `.../employment/report/` (VOE).

    Top level: `id`, `status`, `completed_at` (the data's moment), `refresh_status`, `access_token` (never
    stored), `employments[]`. The page documents more (provider, tracking_info...): extra allowed."""

    SOURCE = f"{DOCS}/api-reference/account-link-income-and-employment-reports/link_detail_reports_income"

    id: str
    status: TaskStatus
    completed_at: Timestamp | None
    access_token: str
    employments: list[Employment]
    refresh_status: TaskStatus | None = None
    tracking_info: str | None = None
    is_suspicious: bool | None = None
    data_source: DataSource | None = None


class EmploymentReport(LinkReport):
    SOURCE = f"{DOCS}/api-reference/account-link-income-and-employment-reports/link_detail_reports_employment"


# ---- assets (VOA) ---------------------------------------------------------------------------------------


class AssetsAccount(Open):
    """An account of an assets report's link. Documented: id, created_at, updated_at, type, subtype, mask,
    routing number, balances and transactions ("current and available balances"; "date, description,
    amount, and type"); the key names inside those are monitor's choices (README, where Truv is silent)."""

    SOURCE = f"{DOCS}/docs/data-reference-for-verification-of-assets"

    id: str
    type: str | None = None
    subtype: str | None = None
    mask: str | None = None


class AssetsLink(Open):
    SOURCE = f"{DOCS}/docs/data-reference-for-verification-of-assets"

    link_id: str
    tracking_info: str | None = None
    provider: str | None = None
    provider_name: str | None = None
    accounts: list[AssetsAccount]


class AssetsReport(Open):
    """`GET /v1/users/{user_id}/assets/reports/{report_id}/`: the user's VOA report over its links."""

    SOURCE = f"{DOCS}/api-reference/user-asset-verification-reports/assets-report-retrieve"

    report_id: str
    created_at: Timestamp | None
    completed_at: Timestamp | None
    days_requested: int | None = None
    is_voe: bool | None = None
    links: list[AssetsLink]


# ---- bridge tokens and errors ---------------------------------------------------------------------------


class BridgeToken(Strict):
    """`POST /v1/users/{user_id}/tokens/`: a bridge token, valid 6 hours; with `access_token` it opens Bridge
    in update mode (the borrower re-enters credentials for an existing link)."""

    SOURCE = f"{DOCS}/api-reference/bridge-token/object"

    bridge_token: str
    tracking_info: str | None
    client_name: str | None
    product_type: BridgeProduct
    allowed_products: list[str] | None
    company_mapping_id: str | None
    access_token: str | None


class InvalidParam(Strict):
    field: str
    message: str


class ErrorExtra(Strict):
    invalid_params: list[InvalidParam] = Field(alias="invalid-params")


class ErrorDetail(Strict):
    code: str
    message: str
    # Only on 400.
    extra: ErrorExtra | None = None


class ErrorBody(Strict):
    """`{"error": {"code", "message", "extra"?}}`: 400 incorrect_parameters, 401 authentication_failed,
    403 not_authenticated, 406, 410 expired_token, 415, 429 throttled."""

    SOURCE = f"{DOCS}/api-reference/errors"

    error: ErrorDetail


class NotFound(Strict):
    """A 404 (and a 405) answers Django REST framework's `{"detail": ...}`, not the error body."""

    SOURCE = f"{DOCS}/api-reference/errors"

    detail: str


# ---- webhooks -------------------------------------------------------------------------------------------


class Webhook(Strict):
    """Common to every payload: webhook_id, event_type, event_created_at, user_id.

    `user_id` is optional here: the data-refresh guide's example leaves it out and Truv's sample code says
    task events sometimes lack it."""

    webhook_id: str
    event_type: str
    event_created_at: Timestamp
    user_id: str | None = None


class OrderEvent(Webhook):
    """Order events add `order_id`, `order_number` (nullable), `template_id` (nullable), `updated_at`.

    [doc, orders-1] `order_number` and `template_id` are in the reference example; the data-refresh guide's
    shorter example leaves them out, so they may be absent."""

    SOURCE = f"{DOCS}/api-reference/orders/events"

    event_type: Literal["order-finalized"]
    order_id: str
    updated_at: Timestamp
    order_number: str | None = None
    template_id: str | None = None


class OrderStatusEvent(OrderEvent):
    """order-created, order-status-updated, order-refresh-failed add `employer_id`, `link_id`, `product`,
    `data_source`, `status`.

    `employer_id`: set in the reference example (orders-1, even with `link_id` null), null on order-created,
    absent from the data-refresh guide's example: null or absent must both be read."""

    event_type: Literal["order-created", "order-status-updated", "order-refresh-failed"]  # type: ignore[assignment]
    status: str
    employer_id: str | None = None
    link_id: str | None = None
    product: str | None = None
    data_source: DataSource | None = None


class OrderCreated(OrderStatusEvent):
    """Fires before any transition: `status` is always pending; `employer_id`, `link_id`, `data_source`
    are null."""

    event_type: Literal["order-created"]  # type: ignore[assignment]
    status: Literal["pending"]  # type: ignore[assignment]
    employer_id: None = None
    link_id: None = None
    data_source: None = None


class OrderStatusUpdated(OrderStatusEvent):
    """Fires each time a suborder changes status (only successful connections are reflected); the example
    values include `completed` and `expired`."""

    event_type: Literal["order-status-updated"]  # type: ignore[assignment]
    status: SuborderStatus  # type: ignore[assignment]


class OrderRefreshFailed(OrderStatusEvent):
    """One per order when a refresh task fails; `status` holds the failure status. [inferred] No verbatim
    example was found: the shape is the order event field table's."""

    event_type: Literal["order-refresh-failed"]  # type: ignore[assignment]
    status: TaskFailure  # type: ignore[assignment]


class TaskEvent(Webhook):
    """Task events add `task_id`, `link_id`, `product`, `data_source`, `tracking_info`; they carry
    `updated_at` (order them by it). `template_id`: [inferred] not in the visible part of the table."""

    SOURCE = f"{DOCS}/api-reference/tasks/events"

    task_id: str
    link_id: str
    product: str | None
    data_source: DataSource | None
    tracking_info: str | None
    updated_at: Timestamp
    template_id: str | None = None


class TaskStatusUpdated(TaskEvent):
    """Every task status change; `done` means all data is processed and ready to fetch."""

    event_type: Literal["task-status-updated"]
    status: TaskStatus


class DataUpdated(TaskEvent):
    """`*-updated` (and `*-created`) data events: a hint to re-read, never the diff. `employment-updated` names
    `employment_id`... [doc: employment/events, statements/events] `statements-updated` carries `employment_id`
    and `objects_count`; `bank-accounts-updated` an `object_id`."""

    SOURCE = f"{DOCS}/api-reference/employment/events"

    event_type: Literal[
        "employment-created",
        "employment-updated",
        "profile-created",
        "profile-updated",
        "statements-created",
        "statements-updated",
        "shifts-created",
        "shifts-updated",
        "bank-accounts-created",
        "bank-accounts-updated",
    ]
    objects_count: int
    employment_id: str | None = None
    object_id: str | None = None


class LinkEvent(Webhook):
    """Account Link events: `link_id`, `product`, `data_source`, `tracking_info`. NO `updated_at`: order them by
    `event_created_at`. `template_id`: [inferred] not in the visible part of the table, allowed if null."""

    SOURCE = f"{DOCS}/api-reference/links/events"

    event_type: Literal["link-connected", "link-disconnected", "link-deleted"]
    link_id: str
    product: str | None
    data_source: DataSource | None
    tracking_info: str | None
    template_id: None = None


WEBHOOK_MODELS: dict[str, type[Webhook]] = {
    "order-created": OrderCreated,
    "order-status-updated": OrderStatusUpdated,
    "order-refresh-failed": OrderRefreshFailed,
    "order-finalized": OrderEvent,
    "task-status-updated": TaskStatusUpdated,
    "link-connected": LinkEvent,
    "link-disconnected": LinkEvent,
    "link-deleted": LinkEvent,
    **dict.fromkeys(DataUpdated.model_fields["event_type"].annotation.__args__, DataUpdated),  # type: ignore[union-attr]
}


def webhook(payload: dict[str, Any]) -> Webhook:
    """Validate one webhook payload against the model of its `event_type` (KeyError for an unknown one)."""
    return WEBHOOK_MODELS[payload["event_type"]].model_validate(payload)
