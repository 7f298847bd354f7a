"""The JSON of the assets report (VOA: `GET /v1/users/{user_id}/assets/reports/{report_id}/`).

TypedDicts only describe the dicts assets.py builds: the bytes on the wire are those dicts dumped
as they are, keys in the order they are written there.
"""

from __future__ import annotations

from typing import TypedDict


class TransactionJson(TypedDict):
    id: str
    amount: str
    currency_code: str
    description: str
    type: str
    status: str
    transacted_at: str
    posted_at: str


class BalancesJson(TypedDict):
    currency_code: str
    balance: str
    available_balance: str


class AccountJson(TypedDict):
    id: str
    type: str
    subtype: str
    mask: str
    status: str
    balances: BalancesJson
    transactions: list[TransactionJson]


class AssetsLinkJson(TypedDict):
    link_id: str
    tracking_info: None
    provider: str
    provider_name: str
    accounts: list[AccountJson]


class AssetsReportJson(TypedDict):
    report_id: str
    created_at: str | None
    completed_at: str | None
    days_requested: int
    is_voe: bool
    links: list[AssetsLinkJson]
