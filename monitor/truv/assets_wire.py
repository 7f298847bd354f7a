"""Truv's user assets (VOA) report -> the accounts monitoring compares (README "Where Truv is silent").

`GET /v1/users/{user_id}/assets/reports/{report_id}/` aggregates every link of the user; only the
accounts of the refreshed connection's link are kept. Per account: id, type, the current balance
(`balances.balance`, else `available_balance`), whether it is closed, and its credits (deposits).
"""

from __future__ import annotations

from datetime import datetime

from monitor.core.assets import Account, AssetsSnapshot, Deposit
from monitor.core.changes import day, money
from monitor.truv.wire import parse_time

# The newest credits kept per account: enough to tell a new deposit from one seen before.
DEPOSITS_KEPT = 200
_CLOSED = frozenset({"closed", "inactive", "deleted"})


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _objects(items: object) -> list[dict[str, object]]:
    """The JSON objects of a list that carry an `id`; anything else in it is skipped."""
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict) and item.get("id") is not None]


def _deposits(items: object) -> tuple[Deposit, ...]:
    found = [d for d in map(_deposit, _objects(items)) if d is not None]
    found.sort(key=lambda d: (d.on.toordinal() if d.on else 0, d.id), reverse=True)
    return tuple(found[:DEPOSITS_KEPT])


def _deposit(item: dict[str, object]) -> Deposit | None:
    """A credit; a debit is None (without a type, a negative amount is money out)."""
    amount = money(item.get("amount"))
    kind = (_text(item.get("type")) or "").upper()
    if amount is None or (kind and kind != "CREDIT") or (not kind and amount <= 0):
        return None
    on = day(item.get("posted_at")) or day(item.get("transacted_at"))
    return Deposit(id=str(item["id"]), on=on, amount=abs(amount))


def _account(item: dict[str, object]) -> Account:
    given = item.get("balances")
    balances: dict[str, object] = given if isinstance(given, dict) else {}
    current = money(balances.get("balance"))
    status = (_text(item.get("status")) or "").lower()
    return Account(
        id=str(item["id"]),
        type=(_text(item.get("type")) or "").upper() or None,
        balance=current if current is not None else money(balances.get("available_balance")),
        closed=item.get("is_closed") is True or status in _CLOSED,
        deposits=_deposits(item.get("transactions")),
    )


def parse_assets_report(body: object, *, link_id: str, fallback_as_of: datetime) -> AssetsSnapshot:
    if not isinstance(body, dict):
        raise ValueError("an assets report must be a JSON object")
    links = body.get("links")
    if not isinstance(links, list):
        raise ValueError("an assets report needs a links list")
    mine = [link for link in links if isinstance(link, dict) and link.get("link_id") == link_id]
    accounts = [_account(a) for link in mine for a in _objects(link.get("accounts"))]
    return AssetsSnapshot(accounts=tuple(accounts), as_of=parse_time(body.get("completed_at")) or fallback_as_of)
