"""The monitoring rules (DESIGN.md rule 14) as tables: two snapshots in, findings out, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from monitor.core.changes import (
    Employment,
    Rule,
    Severity,
    Snapshot,
    Statement,
    Thresholds,
    compare,
    money,
    pay_interval,
    snapshot_from_dict,
    snapshot_to_dict,
)
from monitor.truv.report_wire import parse_report

AS_OF = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)


def stubs(last: date, every: int = 14, n: int = 4, basis: str = "S") -> tuple[Statement, ...]:
    return tuple(
        Statement(pay_date=last - timedelta(days=every * i), gross_pay=Decimal("2692.31"), basis_of_pay=basis)
        for i in range(n)
    )


JOB = Employment(
    id="emp-1",
    company="Acme Corp",
    ein="12-3456789",
    is_active=True,
    start_date=date(2020, 1, 6),
    job_type="F",
    income=Decimal("70000.00"),
    income_unit="YEARLY",
    pay_rate=Decimal("2692.31"),
    pay_frequency="BW",
    statements=stubs(date(2026, 5, 29)),
)


def snap(*employments: Employment, as_of: datetime = AS_OF) -> Snapshot:
    return Snapshot(employments=tuple(employments), as_of=as_of)


def later(*employments: Employment, days: int = 14) -> Snapshot:
    return snap(*employments, as_of=AS_OF + timedelta(days=days))


def rules(findings) -> list[tuple[str, str, str | None, str | None]]:
    return [(f.rule.value, f.severity.value, f.employment_id, f.field) for f in findings]


NEXT = replace(JOB, statements=stubs(date(2026, 6, 12)))  # one new stub two weeks on


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        # nothing changed but a new pay stub: no finding
        (NEXT, []),
        # is_active true -> false
        (replace(NEXT, is_active=False), [("job_loss", "critical", "emp-1", "is_active")]),
        # an end date appears
        (replace(NEXT, end_date=date(2026, 6, 10)), [("job_loss", "critical", "emp-1", "end_date")]),
        # 5% down: review (medium); 10%: material (high); 4.9%: nothing
        (replace(NEXT, income=Decimal("66500.00")), [("income_drop", "medium", "emp-1", "income")]),
        (replace(NEXT, income=Decimal("63000.00")), [("income_drop", "high", "emp-1", "income")]),
        (replace(NEXT, income=Decimal("66570.00")), []),
        # pay_rate at the same frequency
        (replace(NEXT, pay_rate=Decimal("2288.46")), [("income_drop", "high", "emp-1", "pay_rate")]),
        # a raise is not a finding
        (replace(NEXT, income=Decimal("80000.00")), []),
        # pay changes
        (replace(NEXT, job_type="P"), [("job_type_change", "high", "emp-1", "job_type")]),
        (
            replace(NEXT, statements=stubs(date(2026, 6, 12), basis="H")),
            [("pay_change", "medium", "emp-1", "basis_of_pay")],
        ),
    ],
)
def test_rules_on_one_employment(current, expected):
    assert rules(compare(snap(JOB), later(current), Thresholds())) == expected


@pytest.mark.parametrize(
    "current",
    [
        replace(NEXT, income=None),  # a missing field is absent, never zero
        replace(NEXT, income=Decimal("0.00"), income_unit=None),  # unknown unit: not comparable
        replace(NEXT, income=Decimal("5000.00"), income_unit="MONTHLY"),  # a unit change is no drop
        replace(NEXT, pay_rate=Decimal("1346.15"), pay_frequency="W"),  # weekly now: pay_change, not a drop
    ],
)
def test_missing_values_and_unit_changes_never_give_an_income_drop(current):
    found = compare(snap(JOB), later(current), Thresholds())
    assert Rule.INCOME_DROP not in {f.rule for f in found}


def test_a_zero_previous_income_is_not_a_base_for_a_drop():
    zero = replace(JOB, income=Decimal("0.00"))
    assert compare(snap(zero), later(replace(NEXT, income=Decimal("0.00"))), Thresholds()) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("70000.00", Decimal("70000.00")),
        ("70,000.00", Decimal("70000.00")),
        ("$1,234.50", Decimal("1234.50")),
        ("0.00", Decimal("0.00")),
        (" 12 ", Decimal("12")),
        (70000, Decimal("70000")),
        (1.5, Decimal("1.5")),
        ("", None),
        (None, None),
        ("n/a", None),
        ("NaN", None),
        ("Infinity", None),
        (True, None),
        ({"amount": 1}, None),
    ],
)
def test_money_from_truvs_strings(text, expected):
    assert money(text) == expected


def test_two_employers_one_ends_gives_exactly_one_job_loss_on_that_employment():
    other = replace(JOB, id="emp-2", company="Beta LLC", ein="98-7654321")
    other_next = replace(other, statements=stubs(date(2026, 6, 12)))
    found = compare(snap(JOB, other), later(replace(NEXT, is_active=False), other_next), Thresholds())
    assert rules(found) == [("job_loss", "critical", "emp-1", "is_active")]


def test_an_employment_that_disappears_is_a_job_loss():
    assert rules(compare(snap(JOB), later(), Thresholds())) == [("job_loss", "critical", "emp-1", "employment")]


def test_is_active_inferred_by_truv_is_a_probable_job_loss():
    inferred = replace(NEXT, is_active=False, derived_fields=("is_active",))
    (finding,) = compare(snap(JOB), later(inferred), Thresholds())
    assert (finding.rule, finding.severity, finding.confidence) == (Rule.JOB_LOSS, Severity.CRITICAL, "probable")


def test_a_new_employer_and_a_rehire_are_employer_changes():
    ended = replace(NEXT, is_active=False, end_date=date(2026, 6, 1))
    elsewhere = Employment(id="emp-9", company="Gamma Inc", ein="11-1111111", is_active=True)
    found = compare(snap(JOB), later(ended, elsewhere), Thresholds())
    assert rules(found) == [
        ("job_loss", "critical", "emp-1", "is_active"),
        ("employer_change", "high", "emp-9", "employment"),
    ]
    assert found[1].detail["rehire"] is False
    rehired = Employment(id="emp-10", company="ACME CORP", ein="12-3456789", is_active=True)
    (_, change) = compare(snap(JOB), later(ended, rehired), Thresholds())
    assert change.rule is Rule.EMPLOYER_CHANGE and change.detail["rehire"] is True


@pytest.mark.parametrize(
    ("days_later", "new_stub", "missed"),
    [
        (14, False, False),  # 1.5 x 14 + 3 = 24 days after the last pay date (May 29): June 22
        (24, False, True),  # June 29: overdue
        (24, True, False),  # a new stub came: nothing missed
        (17, False, False),  # June 22 itself: not yet
    ],
)
def test_missed_pay_after_one_and_a_half_intervals_and_three_days(days_later, new_stub, missed):
    current = NEXT if new_stub else JOB
    found = compare(snap(JOB), later(current, days=days_later), Thresholds())
    assert (Rule.MISSED_PAY in {f.rule for f in found}) is missed


@pytest.mark.parametrize(
    ("frequency", "dates", "expected_days"),
    [
        ("W", (), 7),
        ("BW", (), 14),
        ("M", (), 30),
        (None, (date(2026, 1, 1), date(2026, 1, 15), date(2026, 1, 29)), 14),
        ("C", (date(2026, 1, 1), date(2026, 1, 8)), 7),
        (None, (date(2026, 1, 1),), None),
    ],
)
def test_pay_interval(frequency, dates, expected_days):
    emp = replace(JOB, pay_frequency=frequency, statements=tuple(Statement(pay_date=d) for d in dates))
    got = pay_interval(emp)
    assert (got.days if got else None) == expected_days


def test_thresholds_are_the_policys():
    strict = Thresholds(review=Decimal("0.02"), material=Decimal("0.03"))
    found = compare(snap(JOB), later(replace(NEXT, income=Decimal("68250.00"))), strict)
    assert rules(found) == [("income_drop", "medium", "emp-1", "income")]


def test_a_snapshot_survives_its_stored_form():
    again = snapshot_from_dict(snapshot_to_dict(snap(JOB)))
    assert again == snap(JOB)


def test_a_report_is_read_into_the_few_fields_kept_and_nothing_else():
    body = {
        "id": "r1",
        "status": "done",
        "completed_at": "2026-06-05T10:00:00Z",
        "access_token": "secret-access-token",
        "employments": [
            {
                "id": "emp-1",
                "is_active": True,
                "start_date": "2020-01-06",
                "company": {"name": "Acme Corp", "ein": "12-3456789", "address": {"street": "1 Main"}},
                "job_type": "F",
                "income": "70,000.00",
                "income_unit": "YEARLY",
                "pay_rate": "2692.31",
                "pay_frequency": "BW",
                "derived_fields": ["is_active"],
                "statements": [
                    {"pay_date": "2026-05-15T00:00:00.000Z", "gross_pay": "2692.31", "basis_of_pay": "S"},
                    {"pay_date": "2026-05-29", "gross_pay": "2692.31", "net_pay": "2000.00", "basis_of_pay": "S"},
                ],
                "bank_accounts": [{"account_number": "123456789"}],
            },
            {"no_id": True},
        ],
    }
    s = parse_report(body, fallback_as_of=AS_OF)
    assert s.as_of == datetime(2026, 6, 5, 10, 0, tzinfo=UTC)
    (emp,) = s.employments
    assert (emp.income, emp.derived_fields, emp.latest_pay_date) == (
        Decimal("70000.00"),
        ("is_active",),
        date(2026, 5, 29),
    )
    stored = str(snapshot_to_dict(s))
    assert "secret-access-token" not in stored and "123456789" not in stored and "2000.00" not in stored


def test_a_missing_pay_date_is_reported_once_not_at_every_later_refresh():
    first = compare(snap(JOB), later(JOB, days=24), Thresholds())  # overdue now: found
    again = compare(later(JOB, days=24), later(JOB, days=38), Thresholds())  # still the same date
    assert [f.rule for f in first] == [Rule.MISSED_PAY] and again == []
