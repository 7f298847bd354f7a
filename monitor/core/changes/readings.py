"""What monitoring reads from a report: employments, their pay statements, the loan's underwriting, and
Truv's money and date strings as values. A missing field is absent, never zero."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True, slots=True)
class Statement:
    pay_date: date | None
    gross_pay: Decimal | None = None
    hours: Decimal | None = None
    basis_of_pay: str | None = None
    gross_pay_ytd: Decimal | None = None
    net_pay_ytd: Decimal | None = None
    leave: bool = False  # an earnings line Truv names as leave (README: where Truv is silent)


@dataclass(frozen=True, slots=True)
class Employment:
    id: str
    company: str | None = None
    ein: str | None = None
    is_active: bool | None = None
    start_date: date | None = None
    end_date: date | None = None
    original_hire_date: date | None = None
    job_type: str | None = None
    income: Decimal | None = None
    income_unit: str | None = None
    pay_rate: Decimal | None = None
    pay_frequency: str | None = None
    derived_fields: tuple[str, ...] = ()
    statements: tuple[Statement, ...] = ()

    @property
    def active(self) -> bool:
        """Active unless Truv says otherwise: `is_active` false, or an end date."""
        return self.is_active is not False and self.end_date is None

    @property
    def latest_pay_date(self) -> date | None:
        dates = [s.pay_date for s in self.statements if s.pay_date is not None]
        return max(dates) if dates else None

    @property
    def latest_basis_of_pay(self) -> str | None:
        dated = [s for s in self.statements if s.pay_date is not None and s.basis_of_pay]
        return max(dated, key=lambda s: s.pay_date or date.min).basis_of_pay if dated else None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The few fields of one connection's report that monitoring compares; nothing else is kept."""

    employments: tuple[Employment, ...]
    as_of: datetime  # when the report's data was collected (the refresh's completion)


@dataclass(frozen=True, slots=True)
class Underwriting:
    """What the loan was underwritten on (optional loan columns); every field may be absent.

    `qualifying_income` is monthly (the import converts a yearly figure); `dti` is a percentage;
    `agency` is the preset's agency (fha, fannie, ...) of the policy that refreshed.
    """

    note_date: date | None = None
    qualifying_income: Decimal | None = None
    dti: Decimal | None = None
    monthly_debts: Decimal | None = None
    agency: str | None = None

    @property
    def monthly_qualifying(self) -> Decimal | None:
        return self.qualifying_income if self.qualifying_income and self.qualifying_income > 0 else None

    @property
    def debts(self) -> Decimal | None:
        """The monthly debts behind the DTI: as given, else the DTI's share of the qualifying income."""
        if self.monthly_debts is not None:
            return self.monthly_debts
        if self.dti is not None and self.monthly_qualifying is not None:
            return self.dti / 100 * self.monthly_qualifying
        return None


def underwriting_of(columns: dict[str, str], *, note_date: date | None, agency: str | None) -> Underwriting:
    """The loans file's underwriting columns (checked at import) as values; qualifying income per month."""
    qualifying = money(columns.get("qualifying_income"))
    if qualifying is not None and columns.get("qualifying_income_unit") == "yearly":
        qualifying = qualifying / 12
    return Underwriting(
        note_date=note_date,
        qualifying_income=qualifying,
        dti=money(columns.get("dti")),
        monthly_debts=money(columns.get("monthly_debts")),
        agency=agency,
    )


_MONEY_NOISE = re.compile(r"[,\s$]")


def money(value: object) -> Decimal | None:
    """Truv's money strings ("70000.00", "70,000.00") as Decimal; anything unreadable is absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    text = _MONEY_NOISE.sub("", value)
    if not text:
        return None
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        return None
    return parsed if parsed.is_finite() else None


def day(value: object) -> date | None:
    """`2021-10-22` or `2018-05-15T00:00:00.000Z` as a date; anything else is absent."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


# -- the rules ---------------------------------------------------------------------------------------
