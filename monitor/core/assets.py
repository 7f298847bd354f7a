"""What changed in a borrower's accounts after a VOA (assets) refresh. Pure: two snapshots in, findings out.

Three things an underwriter must act on before closing: the verified balance no longer covers
`funds_to_close + reserves` (loan columns), a deposit over 50% of the monthly qualifying income that
must be sourced (Fannie Mae B3-4.2-02), and an account that is gone or closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from monitor.core.changes import Finding, Rule, Severity, day, money

# Fannie Mae B3-4.2-02: a deposit over this share of the monthly qualifying income must be sourced.
LARGE_DEPOSIT_SHARE = Decimal("0.5")
# Account types whose balance is money to close with (truv-api.md: CHECKING, SAVINGS, ...); a card's or a
# loan's balance is owed, never counted.
LIQUID_TYPES = frozenset({"CHECKING", "SAVINGS", "MONEY_MARKET", "CD", "INVESTMENT", "BROKERAGE", "RETIREMENT"})


@dataclass(frozen=True, slots=True)
class Deposit:
    id: str
    on: date | None
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    type: str | None = None
    balance: Decimal | None = None
    closed: bool = False
    deposits: tuple[Deposit, ...] = ()

    @property
    def liquid(self) -> bool:
        return not self.closed and (self.type or "").upper() in LIQUID_TYPES


@dataclass(frozen=True, slots=True)
class AssetsSnapshot:
    accounts: tuple[Account, ...]
    as_of: datetime


@dataclass(frozen=True, slots=True)
class AssetTerms:
    """The loan's columns the accounts are compared with; each may be absent."""

    funds_to_close: Decimal | None = None
    reserves: Decimal | None = None
    monthly_qualifying: Decimal | None = None

    @property
    def needed(self) -> Decimal | None:
        if self.funds_to_close is None and self.reserves is None:
            return None
        return (self.funds_to_close or Decimal(0)) + (self.reserves or Decimal(0))


def balance(snapshot: AssetsSnapshot) -> Decimal | None:
    """The liquid accounts' balances added up; None when none reports one."""
    known = [a.balance for a in snapshot.accounts if a.liquid and a.balance is not None]
    return sum(known, Decimal(0)) if known else None


def compare_assets(previous: AssetsSnapshot, current: AssetsSnapshot, terms: AssetTerms) -> list[Finding]:
    """Findings between two assets reports of the same connection, each said once: a shortfall when the
    balance falls below what is needed (not when it already was), a deposit not in the previous report,
    an account open before and closed or gone now."""
    shortfall = _shortfall(terms.needed, now=balance(current), was=balance(previous))
    return [
        *([shortfall] if shortfall else []),
        *_closed_accounts(previous, current),
        *_large_deposits(previous, current, terms),
    ]


def _shortfall(needed: Decimal | None, *, now: Decimal | None, was: Decimal | None) -> Finding | None:
    """The balance fell below what is needed (said once: not when it already was)."""
    if needed is None or now is None or now >= needed or (was is not None and was < needed):
        return None
    q = Decimal("0.01")
    return Finding(
        Rule.INSUFFICIENT_FUNDS,
        Severity.HIGH,
        None,
        "balance",
        str(was.quantize(q)) if was is not None else None,
        str(now.quantize(q)),
        detail={"needed": str(needed.quantize(q))},
    )


def _closed_accounts(previous: AssetsSnapshot, current: AssetsSnapshot) -> list[Finding]:
    """An account open before and closed or gone now."""
    after = {a.id: a for a in current.accounts}
    out = []
    for old in previous.accounts:
        new = after.get(old.id)
        if not old.closed and (new is None or new.closed):
            gone = "gone" if new is None else "closed"
            out.append(Finding(Rule.ACCOUNT_CLOSED, Severity.HIGH, old.id, "account", "open", gone))
    return out


def _large_deposits(previous: AssetsSnapshot, current: AssetsSnapshot, terms: AssetTerms) -> list[Finding]:
    if terms.monthly_qualifying is None or terms.monthly_qualifying <= 0:
        return []
    limit = terms.monthly_qualifying * LARGE_DEPOSIT_SHARE
    seen = {d.id for a in previous.accounts for d in a.deposits}
    out = []
    for account in current.accounts:
        for deposit in account.deposits:
            if deposit.id in seen or deposit.amount <= limit:
                continue
            out.append(
                Finding(
                    Rule.LARGE_DEPOSIT,
                    Severity.MEDIUM,
                    account.id,
                    "deposit",
                    None,
                    str(deposit.amount.quantize(Decimal("0.01"))),
                    detail={
                        "on": deposit.on.isoformat() if deposit.on else None,
                        "limit": str(limit.quantize(Decimal("0.01"))),
                        "guide": "Fannie Mae B3-4.2-02",
                    },
                )
            )
    return out


# -- the stored form ---------------------------------------------------------------------------------------


def assets_to_dict(snapshot: AssetsSnapshot) -> dict[str, object]:
    return {
        "as_of": snapshot.as_of.isoformat(),
        "accounts": [
            {
                "id": a.id,
                "type": a.type,
                "balance": str(a.balance) if a.balance is not None else None,
                "closed": a.closed,
                "deposits": [
                    {"id": d.id, "on": d.on.isoformat() if d.on else None, "amount": str(d.amount)} for d in a.deposits
                ],
            }
            for a in snapshot.accounts
        ],
    }


def assets_from_dict(data: Mapping[str, object]) -> AssetsSnapshot:
    accounts = tuple(_account_from_dict(a) for a in _maps(data.get("accounts")))
    return AssetsSnapshot(accounts=accounts, as_of=datetime.fromisoformat(str(data["as_of"])))


def _maps(value: object) -> list[Mapping[str, object]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _account_from_dict(a: Mapping[str, object]) -> Account:
    deposits = tuple(
        Deposit(id=str(d["id"]), on=day(d.get("on")), amount=money(d.get("amount")) or Decimal(0))
        for d in _maps(a.get("deposits"))
    )
    kind = a.get("type")
    return Account(
        id=str(a["id"]),
        type=kind if isinstance(kind, str) else None,
        balance=money(a.get("balance")),
        closed=a.get("closed") is True,
        deposits=deposits,
    )
