"""Truv's user assets (VOA) report -> the accounts monitoring compares (README "Where Truv is silent").

`GET /v1/users/{user_id}/assets/reports/{report_id}/` aggregates every link of the user; only the
accounts of the refreshed connection's link are kept. Per account: id, type, the current balance
(`balances.balance`, else `available_balance`), whether it is closed, and its credits (deposits).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.core.assets import Account, AssetsSnapshot, Deposit
from monitor.core.changes import day, money
from monitor.truv.wire import parse_time

# The newest credits kept per account: enough to tell a new deposit from one seen before.
DEPOSITS_KEPT = 200
_CLOSED = frozenset({"closed", "inactive", "deleted"})


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _deposits(items: Any) -> tuple[Deposit, ...]:
    out = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or item.get("id") is None:
            continue
        amount = money(item.get("amount"))
        kind = (_text(item.get("type")) or "").upper()
        if amount is None or (kind and kind != "CREDIT") or (not kind and amount <= 0):
            continue  # a debit; without a type, a negative amount is money out
        on = day(item.get("posted_at")) or day(item.get("transacted_at"))
        out.append(Deposit(id=str(item["id"]), on=on, amount=abs(amount)))
    out.sort(key=lambda d: (d.on.toordinal() if d.on else 0, d.id), reverse=True)
    return tuple(out[:DEPOSITS_KEPT])


def _account(item: dict[str, Any]) -> Account:
    given = item.get("balances")
    balances: dict[str, Any] = given if isinstance(given, dict) else {}
    current = money(balances.get("balance"))
    status = (_text(item.get("status")) or "").lower()
    return Account(
        id=str(item["id"]),
        type=(_text(item.get("type")) or "").upper() or None,
        balance=current if current is not None else money(balances.get("available_balance")),
        closed=item.get("is_closed") is True or status in _CLOSED,
        deposits=_deposits(item.get("transactions")),
    )


def parse_assets_report(body: Any, *, link_id: str, fallback_as_of: datetime) -> AssetsSnapshot:
    if not isinstance(body, dict):
        raise ValueError("an assets report must be a JSON object")
    links = body.get("links")
    if not isinstance(links, list):
        raise ValueError("an assets report needs a links list")
    accounts: list[Account] = []
    for link in links:
        if not isinstance(link, dict) or link.get("link_id") != link_id:
            continue
        items = link.get("accounts")
        accounts += (
            [_account(a) for a in items if isinstance(a, dict) and a.get("id") is not None]
            if isinstance(items, list)
            else []
        )
    return AssetsSnapshot(accounts=tuple(accounts), as_of=parse_time(body.get("completed_at")) or fallback_as_of)
