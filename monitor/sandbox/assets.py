"""The accounts behind a VOA (assets) report, and the changes a test scripts on them.

`GET /v1/users/{user_id}/assets/reports/{report_id}/` answers with the documented user-level shape
(report_id, created_at, completed_at, days_requested, links[].accounts[] with type, balances and
transactions; docs.truv.com "Data Reference for Verification of Assets"). Each financial-account link
holds a checking and a savings account; their data is a pure function of the seed, the link and the
moment its data was collected. A scripted change shows from the link's `at_refresh`th refresh on:
`balance_drop` both balances to 10 %, `large_deposit` a credit of 25,000.00 the day before that
refresh, `account_closed` the savings account `status: CLOSED`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from monitor.sandbox.assets_report_shapes import AccountJson, AssetsLinkJson, AssetsReportJson, TransactionJson
from monitor.sandbox.model import Link, iso

ASSET_CHANGE_KINDS = ("balance_drop", "large_deposit", "account_closed")
BALANCE_LEFT = Decimal("0.10")
LARGE_DEPOSIT = Decimal("25000.00")
DAYS_REQUESTED = 60


@dataclass(frozen=True, slots=True)
class AssetChange:
    at_refresh: int
    kind: str


def parse_asset_changes(value: object) -> tuple[AssetChange, ...]:
    """`{"at_refresh": N, KIND: true}` or a list of them, KIND one of ASSET_CHANGE_KINDS."""
    changes = [_asset_change(index, item) for index, item in enumerate(_items(value))]
    return tuple(sorted(changes, key=lambda c: c.at_refresh))


def _items(value: object) -> list[object]:
    if isinstance(value, Mapping):
        return [value]
    if not value:
        return []
    if not isinstance(value, Iterable):
        raise TypeError(f"'{type(value).__name__}' object is not iterable")
    return list(value)


def _asset_change(index: int, item: object) -> AssetChange:
    kinds = [k for k in ASSET_CHANGE_KINDS if isinstance(item, Mapping) and item.get(k) is True]
    at = item.get("at_refresh") if isinstance(item, Mapping) else None
    if len(kinds) != 1 or isinstance(at, bool) or not isinstance(at, int) or at < 1:
        raise ValueError(
            f"asset changes[{index}]: expected {{at_refresh: N >= 1, KIND: true}} with one KIND of "
            f"{list(ASSET_CHANGE_KINDS)}, got {item!r}"
        )
    return AssetChange(at, kinds[0])


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):.2f}"


def _shown(link: Link, changes: Sequence[AssetChange], moment: datetime) -> list[tuple[AssetChange, datetime]]:
    tasks = link.refresh_tasks
    return [
        (c, tasks[c.at_refresh - 1].finishes_at)
        for c in changes
        if c.at_refresh <= len(tasks) and tasks[c.at_refresh - 1].finishes_at <= moment
    ]


def link_accounts(seed: int, link: Link, changes: Sequence[AssetChange], moment: datetime) -> list[AccountJson]:
    """The link's accounts as data collected at `moment` shows them."""
    rng = random.Random(f"sandbox-assets:{seed}:{link.id}")
    checking = Decimal(rng.randint(20, 120) * 1000)
    savings = Decimal(rng.randint(10, 80) * 1000)
    payroll = Decimal(rng.randint(20, 60) * 100)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(2)]
    shown = _shown(link, changes, moment)
    kinds = {c.kind for c, _ in shown}
    if "balance_drop" in kinds:
        checking, savings = checking * BALANCE_LEFT, savings * BALANCE_LEFT
    # Payroll on the 1st of each month inside the days requested; ids follow the date.
    first = (moment - timedelta(days=DAYS_REQUESTED)).date()
    credits: list[TransactionJson] = []
    day = date(first.year, first.month, 1)
    while day <= moment.date():
        if day >= first:
            credits.append(_credit(seed, link, day, payroll, "Payroll"))
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    for change, at in shown:
        if change.kind == "large_deposit":
            credits.append(_credit(seed, link, at.date() - timedelta(days=1), LARGE_DEPOSIT, "Transfer in"))
    return [
        {
            "id": ids[0],
            "type": "CHECKING",
            "subtype": "checking",
            "mask": ids[0][-4:],
            "status": "OPEN",
            "balances": {"currency_code": "USD", "balance": _money(checking), "available_balance": _money(checking)},
            "transactions": sorted(credits, key=lambda t: t["posted_at"], reverse=True),
        },
        {
            "id": ids[1],
            "type": "SAVINGS",
            "subtype": "savings",
            "mask": ids[1][-4:],
            "status": "CLOSED" if "account_closed" in kinds else "OPEN",
            "balances": {"currency_code": "USD", "balance": _money(savings), "available_balance": _money(savings)},
            "transactions": [],
        },
    ]


def _credit(seed: int, link: Link, day: date, amount: Decimal, text: str) -> TransactionJson:
    tid = f"{random.Random(f'sandbox-txn:{seed}:{link.id}:{day.isoformat()}:{text}').getrandbits(128):032x}"
    return {
        "id": tid,
        "amount": _money(amount),
        "currency_code": "USD",
        "description": text,
        "type": "CREDIT",
        "status": "POSTED",
        "transacted_at": day.isoformat(),
        "posted_at": day.isoformat(),
    }


def assets_report(
    seed: int, report_id: str, links: Sequence[Link], changes: Mapping[str, Sequence[AssetChange]], now: datetime
) -> AssetsReportJson:
    """The user-level assets report over `links` (the order's financial-account connections)."""
    out_links: list[AssetsLinkJson] = []
    moments = []
    for link in links:
        data = link.last_data_task(now)
        if data is None:
            continue
        moments.append(data.finishes_at)
        out_links.append(
            {
                "link_id": link.id,
                "tracking_info": None,
                "provider": "truv_bank",
                "provider_name": "Truv Bank",
                "accounts": link_accounts(seed, link, changes.get(link.id, ()), data.finishes_at),
            }
        )
    completed = max(moments, default=None)
    return {
        "report_id": report_id,
        "created_at": iso(completed) if completed else None,
        "completed_at": iso(completed) if completed else None,
        "days_requested": DAYS_REQUESTED,
        "is_voe": False,
        "links": out_links,
    }
