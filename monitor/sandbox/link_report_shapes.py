"""The JSON of the link reports (VOIE / VOE, truv-api.md section 9).

TypedDicts only describe the dicts employment.py and reports.py build: the bytes on the wire are
those dicts dumped as they are, keys in the order they are written there.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class AddressJson(TypedDict):
    street: str
    city: str
    state: str
    zip: str


class CompanyJson(TypedDict):
    name: str
    address: AddressJson
    phone: str
    ein: str


class EarningJson(TypedDict):
    name: str
    amount: str


class StatementJson(TypedDict):
    """One pay stub; money as strings like "2692.31"."""

    id: str
    pay_date: str
    period_start: str
    period_end: str
    gross_pay: str
    gross_pay_ytd: str
    net_pay: str
    net_pay_ytd: str
    regular: str
    hours: str
    basis_of_pay: str
    earnings: list[EarningJson]


class EmploymentJson(TypedDict):
    """One employment; the employment report nulls the pay fields and has no statements."""

    id: str
    is_active: bool
    start_date: str
    end_date: str | None
    original_hire_date: str
    company: CompanyJson
    job_title: str
    job_type: str
    income: str | None
    income_unit: str | None
    pay_rate: str | None
    pay_frequency: str | None
    derived_fields: list[str]
    missing_data_fields: list[str]
    statements: NotRequired[list[StatementJson]]


class LinkReportJson(TypedDict):
    id: str
    status: str
    completed_at: str | None
    finished_at: str | None
    access_token: str
    tracking_info: None
    is_suspicious: bool
    provider: str
    data_source: str
    employments: list[EmploymentJson]
