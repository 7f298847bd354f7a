"""A link's income / employment report -> the snapshot monitoring compares (truv-api.md section 9,
README "Income monitoring"): each kept field in its documented forms, missing, null or odd; what is
dropped stays dropped. No HTTP, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from monitor.core.changes import Employment, Statement, snapshot_to_dict
from monitor.truv.report_wire import STATEMENTS_KEPT, parse_report

FALLBACK = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def report(*employments: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"id": "rep-1", "status": "done", "employments": list(employments), **top}


def one(**fields: Any) -> Employment:
    snap = parse_report(report({"id": "emp-1", **fields}), fallback_as_of=FALLBACK)
    (emp,) = snap.employments
    return emp


def statement(**fields: Any) -> Statement:
    (stmt,) = one(statements=[fields]).statements
    return stmt


# -- the report as a whole ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(None, "must be a JSON object", id="null"),
        pytest.param([], "must be a JSON object", id="array"),
        pytest.param("report", "must be a JSON object", id="string"),
        pytest.param({}, "needs an employments list", id="no-employments"),
        pytest.param({"employments": None}, "needs an employments list", id="null-employments"),
        pytest.param({"employments": {"id": "e"}}, "needs an employments list", id="object-employments"),
        pytest.param({"employments": "e1"}, "needs an employments list", id="string-employments"),
        pytest.param({"detail": "Not Found."}, "needs an employments list", id="404-body"),
    ],
)
def test_what_is_not_a_report(body, message):
    with pytest.raises(ValueError, match=message):
        parse_report(body, fallback_as_of=FALLBACK)


def test_a_report_with_no_employments_is_an_empty_snapshot():
    snap = parse_report(report(), fallback_as_of=FALLBACK)
    assert (snap.employments, snap.as_of) == ((), FALLBACK)


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        pytest.param({"completed_at": "2026-06-05T10:00:00Z"}, datetime(2026, 6, 5, 10, tzinfo=UTC), id="completed"),
        # `finished_at` is not documented on a report (truv-api.md section 9): never read.
        pytest.param({"finished_at": "2026-06-04T10:00:00Z"}, FALLBACK, id="finished-undocumented-ignored"),
        pytest.param(
            {"completed_at": "2026-06-05T10:00:00Z", "finished_at": "2026-06-04T10:00:00Z"},
            datetime(2026, 6, 5, 10, tzinfo=UTC),
            id="completed-wins",
        ),
        pytest.param(
            {"completed_at": "garbage", "finished_at": "2026-06-04T10:00:00Z"},
            FALLBACK,
            id="unreadable-completed-falls-to-the-refreshs",
        ),
        pytest.param({}, FALLBACK, id="neither-is-the-refreshs-time"),
        pytest.param({"completed_at": None, "finished_at": None}, FALLBACK, id="nulls"),
        pytest.param({"completed_at": "2026-06-05T12:00:00+02:00"}, datetime(2026, 6, 5, 10, tzinfo=UTC), id="offset"),
    ],
)
def test_as_of_is_the_reports_completion_else_the_refreshs(top, expected):
    assert parse_report(report(**top), fallback_as_of=FALLBACK).as_of == expected


@pytest.mark.parametrize(
    ("items", "ids"),
    [
        pytest.param([{"id": "a"}, {"id": "b"}], ["a", "b"], id="two-in-order"),
        pytest.param([{"id": "a"}, {"no": "id"}], ["a"], id="without-id-skipped"),
        pytest.param([{"id": None}], [], id="null-id"),
        pytest.param(["a", 1, None, {"id": "b"}], ["b"], id="non-objects-skipped"),
        pytest.param([{"id": 42}], ["42"], id="numeric-id-as-text"),
    ],
)
def test_employments_are_the_objects_with_an_id(items, ids):
    snap = parse_report({"employments": items}, fallback_as_of=FALLBACK)
    assert [e.id for e in snap.employments] == ids


def test_nothing_outside_the_kept_fields_survives():
    body = report(
        {
            "id": "emp-1",
            "company": {"name": "Acme", "ein": "12-3456789", "phone": "555-0100", "address": {"street": "1 Main"}},
            "job_title": "Engineer",
            "bank_accounts": [{"account_number": "987654321", "routing_number": "021000021"}],
            "w2s": [{"year": 2025, "wages": "99999.99"}],
            "annual_income_summary": [{"year": 2025, "gross_pay": "88888.88"}],
            "statements": [
                {
                    "pay_date": "2026-05-29",
                    "gross_pay": "1000.00",
                    "net_pay": "777.77",
                    "deductions": [{"name": "401k", "amount": "55.55"}],
                    "earnings": [{"name": "Regular", "amount": "1000.00"}],
                }
            ],
        },
        access_token="report-access-token",
    )
    stored = str(snapshot_to_dict(parse_report(body, fallback_as_of=FALLBACK)))
    for dropped in ("report-access-token", "987654321", "021000021", "555-0100", "1 Main", "Engineer", "99999.99"):
        assert dropped not in stored
    for dropped in ("88888.88", "777.77", "55.55"):
        assert dropped not in stored
    assert "Acme" in stored and "12-3456789" in stored  # company name and EIN are what employer_change compares


# -- employment fields ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(True, True, id="true"),
        pytest.param(False, False, id="false"),
        pytest.param(None, None, id="null"),
        pytest.param("true", None, id="string"),
        pytest.param(1, None, id="number"),
    ],
)
def test_is_active_only_as_a_json_boolean(value, expected):
    assert one(is_active=value).is_active is expected


def test_is_active_missing_is_unknown():
    assert one().is_active is None


@pytest.mark.parametrize("field", ["start_date", "end_date", "original_hire_date"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2021-10-22", date(2021, 10, 22), id="date"),
        pytest.param("2018-05-15T00:00:00.000Z", date(2018, 5, 15), id="datetime-Z"),
        pytest.param("2018-05-15T23:59:59+00:00", date(2018, 5, 15), id="datetime-offset"),
        pytest.param(None, None, id="null"),
        pytest.param("", None, id="empty"),
        pytest.param("2021-10", None, id="month-only"),
        pytest.param("22/10/2021", None, id="day-first"),
        pytest.param(20211022, None, id="number"),
    ],
)
def test_employment_dates(field, value, expected):
    assert getattr(one(**{field: value}), field) == expected


@pytest.mark.parametrize(
    ("company", "name", "ein"),
    [
        pytest.param({"name": "Acme Corp", "ein": "12-3456789"}, "Acme Corp", "12-3456789", id="both"),
        pytest.param({"name": "  Acme Corp  "}, "Acme Corp", None, id="name-trimmed"),
        pytest.param({"name": "", "ein": "   "}, None, None, id="blank"),
        pytest.param({"name": None, "ein": None}, None, None, id="nulls"),
        pytest.param({"name": 5, "ein": 123456789}, None, None, id="numbers"),
        pytest.param({}, None, None, id="empty-object"),
        pytest.param(None, None, None, id="null-company"),
        pytest.param("Acme Corp", None, None, id="company-as-string"),
        pytest.param(["Acme"], None, None, id="company-as-array"),
    ],
)
def test_company_name_and_ein(company, name, ein):
    emp = one(company=company)
    assert (emp.company, emp.ein) == (name, ein)


@pytest.mark.parametrize("job_type", ["F", "P", "S", "D", "C", "V"])
def test_every_documented_job_type_is_kept(job_type):
    assert one(job_type=job_type).job_type == job_type


@pytest.mark.parametrize("unit", ["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY"])
def test_every_documented_income_unit_is_kept(unit):
    assert one(income="100.00", income_unit=unit).income_unit == unit


@pytest.mark.parametrize("frequency", ["M", "SM", "W", "BW", "A", "C"])
def test_every_documented_pay_frequency_is_kept(frequency):
    assert one(pay_rate="10.00", pay_frequency=frequency).pay_frequency == frequency


@pytest.mark.parametrize("field", ["job_type", "income_unit", "pay_frequency"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(" BW ", "BW", id="trimmed"),
        pytest.param("", None, id="empty"),
        pytest.param("   ", None, id="blank"),
        pytest.param(None, None, id="null"),
        pytest.param(7, None, id="number"),
    ],
)
def test_code_fields_odd_values(field, value, expected):
    assert getattr(one(**{field: value}), field) == expected


@pytest.mark.parametrize("field", ["income", "pay_rate"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("70000.00", Decimal("70000.00"), id="doc-string"),
        pytest.param("70,000.00", Decimal("70000.00"), id="thousands-comma"),
        pytest.param("$70,000.00", Decimal("70000.00"), id="dollar"),
        pytest.param(" 2692.31 ", Decimal("2692.31"), id="spaces"),
        pytest.param(70000, Decimal("70000"), id="integer"),
        pytest.param(25.5, Decimal("25.5"), id="float"),
        pytest.param("0.00", Decimal("0.00"), id="zero-is-a-value"),
        pytest.param(None, None, id="null-is-absent-not-zero"),
        pytest.param("", None, id="empty-is-absent"),
        pytest.param("n/a", None, id="text"),
        pytest.param("NaN", None, id="nan"),
        pytest.param("Infinity", None, id="infinity"),
        pytest.param(True, None, id="boolean"),
        pytest.param(["1"], None, id="array"),
    ],
)
def test_money_fields_are_decimal_or_absent(field, value, expected):
    got = getattr(one(**{field: value}), field)
    assert got == expected
    assert got is None or isinstance(got, Decimal)


def test_income_is_exact_decimal_not_binary_float():
    assert one(income="0.10").income == Decimal("0.10")
    assert str(one(income="70000.10").income) == "70000.10"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(["is_active"], ("is_active",), id="one"),
        pytest.param(["is_active", "end_date"], ("is_active", "end_date"), id="two"),
        pytest.param([], (), id="empty"),
        pytest.param(None, (), id="null"),
        pytest.param("is_active", (), id="string-not-list"),
        pytest.param(["is_active", 3, None], ("is_active",), id="non-strings-dropped"),
    ],
)
def test_derived_fields(value, expected):
    assert one(derived_fields=value).derived_fields == expected


# -- statements ----------------------------------------------------------------------------------------


def test_a_statement_keeps_pay_date_gross_hours_basis_and_ytd():
    stmt = statement(
        pay_date="2026-05-29",
        period_start="2026-05-16",
        period_end="2026-05-29",
        gross_pay="2,692.31",
        gross_pay_ytd="29,615.41",
        net_pay="2000.00",
        net_pay_ytd="22000.00",
        hours="80",
        basis_of_pay="S",
        bonus="100.00",
    )
    assert stmt == Statement(
        pay_date=date(2026, 5, 29),
        gross_pay=Decimal("2692.31"),
        hours=Decimal("80"),
        basis_of_pay="S",
        gross_pay_ytd=Decimal("29615.41"),
        net_pay_ytd=Decimal("22000.00"),
    )


@pytest.mark.parametrize("basis", ["S", "H", "D", "W", "M", "C"])
def test_every_documented_basis_of_pay_is_kept(basis):
    assert statement(pay_date="2026-05-29", basis_of_pay=basis).basis_of_pay == basis


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, Statement(pay_date=None), id="empty-statement"),
        pytest.param({"pay_date": "2026-05-29T00:00:00.000Z"}, Statement(pay_date=date(2026, 5, 29)), id="iso-Z"),
        pytest.param({"pay_date": "soon"}, Statement(pay_date=None), id="unreadable-date"),
        pytest.param(
            {"pay_date": "2026-05-29", "gross_pay": None, "hours": ""},
            Statement(pay_date=date(2026, 5, 29)),
            id="absent-money",
        ),
        pytest.param(
            {"pay_date": "2026-05-29", "basis_of_pay": "  "}, Statement(pay_date=date(2026, 5, 29)), id="blank-basis"
        ),
        pytest.param(
            {"pay_date": "2026-05-29", "hours": 37.5}, Statement(date(2026, 5, 29), hours=Decimal("37.5")), id="hours"
        ),
    ],
)
def test_statement_odd_values(fields, expected):
    assert statement(**fields) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="empty"),
        pytest.param("s", id="string"),
        pytest.param(["s", 1, None], id="non-objects"),
    ],
)
def test_no_usable_statements(value):
    assert one(statements=value).statements == ()


def test_statements_are_newest_first():
    dates = ["2026-04-03", "2026-05-29", "2026-05-01", "2026-05-15", "2026-04-17"]
    emp = one(statements=[{"pay_date": d} for d in dates])
    assert [s.pay_date for s in emp.statements] == sorted((date.fromisoformat(d) for d in dates), reverse=True)
    assert emp.latest_pay_date == date(2026, 5, 29)


def test_undated_statements_go_last():
    emp = one(statements=[{"gross_pay": "1"}, {"pay_date": "2026-05-29"}, {"pay_date": "2026-05-15"}])
    assert [s.pay_date for s in emp.statements] == [date(2026, 5, 29), date(2026, 5, 15), None]


@pytest.mark.parametrize(
    ("count", "kept"),
    [
        pytest.param(0, 0, id="none"),
        pytest.param(1, 1, id="one"),
        pytest.param(STATEMENTS_KEPT, STATEMENTS_KEPT, id="exactly-the-limit"),
        pytest.param(STATEMENTS_KEPT + 1, STATEMENTS_KEPT, id="one-over"),
        pytest.param(52, STATEMENTS_KEPT, id="a-year-of-weekly"),
    ],
)
def test_only_the_latest_six_statements_are_kept(count, kept):
    statements = [
        {"pay_date": date.fromordinal(date(2026, 1, 2).toordinal() + 7 * i).isoformat()} for i in range(count)
    ]
    emp = one(statements=statements)
    assert len(emp.statements) == kept
    if count:
        newest = date.fromisoformat(statements[-1]["pay_date"])
        assert emp.statements[0].pay_date == newest
        assert all(s.pay_date is not None and s.pay_date > emp.statements[-1].pay_date for s in emp.statements[:-1])


def test_the_readme_keeps_six():
    assert STATEMENTS_KEPT == 6


def test_two_employments_keep_their_own_fields():
    snap = parse_report(
        report(
            {"id": "a", "company": {"name": "A Co"}, "income": "50000", "income_unit": "YEARLY", "is_active": False},
            {"id": "b", "company": {"name": "B Co"}, "pay_rate": "25", "pay_frequency": "W", "is_active": True},
        ),
        fallback_as_of=FALLBACK,
    )
    a, b = snap.employments
    assert (a.company, a.income, a.income_unit, a.is_active, a.pay_rate) == (
        "A Co",
        Decimal("50000"),
        "YEARLY",
        False,
        None,
    )
    assert (b.company, b.income, b.pay_rate, b.pay_frequency, b.is_active) == (
        "B Co",
        None,
        Decimal("25"),
        "W",
        True,
    )
    assert not a.active and b.active


@pytest.mark.parametrize(
    ("earnings", "leave"),
    [
        ([{"name": "Regular", "amount": "3000.00"}], False),
        ([{"name": "FMLA Leave", "amount": "0.00"}], True),
        ([{"name": "Regular"}, {"name": "Paid", "category": "leave_of_absence"}], True),
        ([{"name": "Short-term disability"}], True),
        ([{"name": "STD"}], True),
        ([{"name": "Cleaveland bonus"}], False),  # a word containing "leave" is not leave
        ("leave", False),  # not a list: nothing read
        (None, False),
    ],
)
def test_leave_of_absence_from_earnings_lines(earnings, leave):
    assert statement(pay_date="2026-05-29", earnings=earnings).leave is leave
