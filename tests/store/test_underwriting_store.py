"""The underwriting columns through a real import into both databases, and what monitoring reads back
(`store.underwriting.loan_terms`): normalised values, empty ones absent, and no qualifying-income
comparison for a loan whose income comes through several employer connections."""

from __future__ import annotations

from datetime import date

import pytest

from monitor.store.db import session
from monitor.store.tables import LoanConnection
from monitor.store.underwriting import loan_terms
from tests.helpers import import_csv, services, write_csv

ROWS = [
    {
        "loan_id": "U1",
        "order_id": "o1",
        "closing_date": "2026-07-01",
        "delivery_date": "2026-07-20",
        "qualifying_income": "120000",
        "qualifying_income_unit": "Yearly",
        "dti": "41.5%",
        "monthly_debts": "",
        "funds_to_close": "25000.00",
        "reserves": "5000",
    },
    {
        "loan_id": "U2",
        "order_id": "o2",
        "closing_date": "",
        "delivery_date": "",
        "qualifying_income": "",
        "qualifying_income_unit": "",
        "dti": "",
        "monthly_debts": "",
        "funds_to_close": "",
        "reserves": "",
    },
]


def connection(loan_id: str, suborder: str, token: str, kind: str = "employer") -> LoanConnection:
    return LoanConnection(loan_id=loan_id, suborder_id=suborder, order_id="o", kind=kind, token_hash=token)


@pytest.mark.parametrize("through", ["csv", "twice"])
def test_columns_round_trip_and_several_employers_leave_them_out(db_url, clock, tmp_path, through):
    svc = services(db_url, clock, None)
    import_csv(svc, write_csv(tmp_path / "loans.csv", ROWS))
    if through == "twice":  # a re-import replaces them, it does not add
        import_csv(svc, write_csv(tmp_path / "again.csv", ROWS))
    with session(svc.engine) as s:
        s.add(connection("U1", "s1", "tok-a"))
        s.add(connection("U1", "s9", "tok-acct", kind="account"))
    with session(svc.engine) as s:
        one = loan_terms(s, "U1", token_hash="tok-a")
        empty = loan_terms(s, "U2", token_hash="tok-x")
    assert one.closing_date == date(2026, 7, 1)
    assert one.columns == {
        "delivery_date": "2026-07-20",
        "qualifying_income": "120000",
        "qualifying_income_unit": "yearly",
        "dti": "41.5",
        "funds_to_close": "25000.00",
        "reserves": "5000",
    }
    assert (empty.closing_date, empty.columns) == (None, {})
    with session(svc.engine) as s:
        s.add(connection("U1", "s2", "tok-b"))
    with session(svc.engine) as s:
        assert loan_terms(s, "U1", token_hash="tok-a").columns == {}  # another employer's connection
        assert loan_terms(s, "U1", token_hash=None).columns == one.columns  # assets: the loan's columns
