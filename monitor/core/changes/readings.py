"""What monitoring reads from a connection's report: its employments and their pay statements. A missing
field is absent, never zero."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


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
