"""The JSON the sandbox serves for orders and links, as Truv documents them (truv-api.md sections 2 and 3).

TypedDicts only describe the dicts `model.py` builds: the bytes on the wire are those dicts dumped as
they are, keys in the order they are written there.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class ProviderJson(TypedDict):
    id: str
    name: str


class CompanyNameJson(TypedDict):
    name: str


class SuborderJson(TypedDict):
    """An employer or a financial account of an order."""

    id: str
    suborder_number: str
    status: str
    last_task_status: str | None
    created_at: str
    link_id: str
    access_token: str
    provider: ProviderJson
    data_source: str
    company: CompanyNameJson
    # Only with the opt-in `suborder_completed_at` (Truv documents none on a suborder).
    completed_at: NotRequired[str | None]


class OrderJson(TypedDict):
    id: str
    products: list[str]
    source: str
    order_number: str | None
    user_id: str
    first_name: str
    last_name: str
    created_at: str
    updated_at: str
    completed_at: str | None
    canceled_at: None
    expired_at: str
    is_expired: bool
    initial_order: str | None
    refresh_order: str | None
    voie_report_id: str | None
    voa_report_id: str | None
    employers: list[SuborderJson]
    financial_accounts: list[SuborderJson]


class LinkJson(TypedDict):
    id: str
    access_token: str
    created_at: str
    updated_at: str
    deleted_at: str | None
    tracking_info: None
    status: str
    provider_id: str
    provider: ProviderJson
    data_source: str
    allowed_products: list[str]
    is_suspicious: bool
