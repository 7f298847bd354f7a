"""Issue 22 point 5, rule by rule: after a VOA refresh, the accounts against what closing needs
(`funds_to_close + reserves`), deposits over 50% of the monthly qualifying income (Fannie Mae B3-4.2-02),
closed accounts; and the assets report's documented shape read into those accounts. Pure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from monitor.core.assets import (
    Account,
    AssetsSnapshot,
    AssetTerms,
    Deposit,
    assets_from_dict,
    assets_to_dict,
    balance,
    compare_assets,
)
from monitor.core.changes import Rule, Severity
from monitor.truv.assets_wire import parse_assets_report

T1 = datetime(2026, 5, 1, 12, tzinfo=UTC)
T2 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def snap(*accounts: Account, at: datetime = T1) -> AssetsSnapshot:
    return AssetsSnapshot(accounts=accounts, as_of=at)


CHECKING = Account(id="a1", type="CHECKING", balance=Decimal("30000"))
SAVINGS = Account(id="a2", type="SAVINGS", balance=Decimal("20000"))


def rules(found: list[Any]) -> list[tuple[Rule, Severity, str | None]]:
    return [(f.rule, f.severity, f.employment_id) for f in found]


# -- balance below funds_to_close + reserves -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("checking_now", "funds", "reserves", "short"),
    [
        ("30000", "40000", "5000", False),  # 50,000 >= 45,000
        ("24000", "40000", "5000", True),  # 44,000 < 45,000
        ("25000", "40000", "5000", False),  # exactly enough
        ("10000", "40000", None, True),  # reserves absent: funds_to_close alone
        ("10000", None, None, False),  # nothing needed is known
    ],
)
def test_insufficient_funds(checking_now, funds, reserves, short):
    terms = AssetTerms(
        funds_to_close=Decimal(funds) if funds else None, reserves=Decimal(reserves) if reserves else None
    )
    now = Account(id="a1", type="CHECKING", balance=Decimal(checking_now))
    found = compare_assets(snap(CHECKING, SAVINGS), snap(now, SAVINGS, at=T2), terms)
    assert (rules(found) == [(Rule.INSUFFICIENT_FUNDS, Severity.HIGH, None)]) is short
    if short:
        assert found[0].detail == {"needed": str((Decimal(funds) + Decimal(reserves or 0)).quantize(Decimal("0.01")))}


def test_a_shortfall_is_said_once_and_cards_do_not_count():
    terms = AssetTerms(funds_to_close=Decimal("60000"))
    assert rules(compare_assets(snap(CHECKING, SAVINGS), snap(CHECKING, SAVINGS, at=T2), terms)) == []  # already short
    card = Account(id="c1", type="CREDIT_CARD", balance=Decimal("90000"))
    assert balance(snap(CHECKING, card)) == Decimal("30000")


# -- deposits over 50% of the monthly qualifying income -----------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "large"),
    [("4000.00", False), ("4000.01", True), ("12000", True)],
)
def test_large_deposit_over_half_the_monthly_qualifying_income(amount, large):
    terms = AssetTerms(monthly_qualifying=Decimal("8000"))
    old = Account(
        id="a1",
        type="CHECKING",
        balance=Decimal("30000"),
        deposits=(Deposit("t1", date(2026, 4, 20), Decimal("9000")),),
    )
    new = Account(
        id="a1",
        type="CHECKING",
        balance=Decimal("30000"),
        deposits=(Deposit("t2", date(2026, 5, 20), Decimal(amount)), *old.deposits),
    )
    found = compare_assets(snap(old), snap(new, at=T2), terms)
    # t1 (9,000) was in the previous report: said then, not again
    assert rules(found) == ([(Rule.LARGE_DEPOSIT, Severity.MEDIUM, "a1")] if large else [])
    if large:
        assert found[0].detail == {"on": "2026-05-20", "limit": "4000.00", "guide": "Fannie Mae B3-4.2-02"}


def test_no_qualifying_income_no_deposit_judgment():
    new = Account(id="a1", type="CHECKING", balance=Decimal("1"), deposits=(Deposit("t2", None, Decimal("99999")),))
    assert compare_assets(snap(CHECKING), snap(new, at=T2), AssetTerms()) == []


# -- closed accounts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "after"),
    [
        ((CHECKING,), "gone"),  # savings no longer in the report
        ((CHECKING, Account(id="a2", type="SAVINGS", balance=Decimal("0"), closed=True)), "closed"),
    ],
)
def test_account_closed(now, after):
    (finding,) = compare_assets(snap(CHECKING, SAVINGS), snap(*now, at=T2), AssetTerms())
    assert (finding.rule, finding.severity, finding.employment_id, finding.after) == (
        Rule.ACCOUNT_CLOSED,
        Severity.HIGH,
        "a2",
        after,
    )


def test_unchanged_accounts_give_nothing_and_survive_the_stored_form():
    terms = AssetTerms(funds_to_close=Decimal("10000"), reserves=Decimal("5000"), monthly_qualifying=Decimal("8000"))
    with_deposit = Account(
        id="a1", type="CHECKING", balance=Decimal("30000"), deposits=(Deposit("t1", date(2026, 4, 2), Decimal("5000")),)
    )
    same = snap(with_deposit, SAVINGS)
    assert compare_assets(same, snap(with_deposit, SAVINGS, at=T2), terms) == []
    assert assets_from_dict(assets_to_dict(same)) == same


# -- the report's shape (truv docs: "Data Reference for Verification of Assets") ----------------------------


def report(**top: Any) -> dict[str, Any]:
    return {
        "report_id": "r1",
        "completed_at": "2026-06-01T12:00:00Z",
        "links": [
            {
                "link_id": "L1",
                "accounts": [
                    {
                        "id": "a1",
                        "type": "CHECKING",
                        "balances": {"balance": "30000.00", "available_balance": "29000.00"},
                        "transactions": [
                            {"id": "t1", "amount": "9000.00", "type": "CREDIT", "posted_at": "2026-05-20"},
                            {"id": "t2", "amount": "-120.00", "type": "DEBIT", "posted_at": "2026-05-21"},
                            {"id": "t3", "amount": "700.00", "posted_at": "2026-05-22"},
                            {"id": "t4", "amount": "-50.00", "posted_at": "2026-05-23"},
                        ],
                    },
                    {"id": "a2", "type": "savings", "balances": {"available_balance": "100.00"}, "status": "CLOSED"},
                ],
            },
            {"link_id": "OTHER", "accounts": [{"id": "x", "type": "CHECKING", "balances": {"balance": "1"}}]},
        ],
        **top,
    }


def test_an_assets_report_keeps_the_links_accounts_balances_and_credits():
    got = parse_assets_report(report(), link_id="L1", fallback_as_of=T1)
    assert got.as_of == datetime(2026, 6, 1, 12, tzinfo=UTC)
    a1, a2 = got.accounts
    assert (a1.id, a1.type, a1.balance, a1.closed) == ("a1", "CHECKING", Decimal("30000.00"), False)
    assert [(d.id, d.amount) for d in a1.deposits] == [("t3", Decimal("700.00")), ("t1", Decimal("9000.00"))]
    assert (a2.type, a2.balance, a2.closed) == ("SAVINGS", Decimal("100.00"), True)  # available when no balance
    assert parse_assets_report(report(completed_at=None), link_id="L1", fallback_as_of=T1).as_of == T1


@pytest.mark.parametrize(
    ("body", "message"),
    [(None, "must be a JSON object"), ({"report_id": "r"}, "needs a links list")],
)
def test_what_is_not_an_assets_report(body, message):
    with pytest.raises(ValueError, match=message):
        parse_assets_report(body, link_id="L1", fallback_as_of=T1)
