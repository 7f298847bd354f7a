"""Reports opened by people: a lender's loan id or Truv's reason never becomes a spreadsheet formula,
and bidi control characters never reorder what a reader sees (issue 11, point 8)."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import pytest

from monitor.reports.compliance import build, write
from monitor.reports.safe_text import csv_cell, html_text, show_bidi
from monitor.store.db import session
from monitor.store.tables import Connection, Loan, LoanConnection
from tests.helpers import services

FORMULA = '=HYPERLINK("http://x")'
RLO = "L-\u202egpj.exe"  # reads as "L-exe.jpg" when the override is applied
SHOWN_RLO = "L-\\u202egpj.exe"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),  # text that looks like a negative number is still text from outside
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t'=1"),  # a tab-split spreadsheet would read `=1` as its own cell
        ("\r=1", "'\r=1"),
        ("a=b", "a=b"),
        ("L-1004", "L-1004"),
        ("", ""),
        (None, ""),
        (-3, -3),  # a number we write stays a number
        (-0.5, -0.5),
        (float("-inf"), "'-inf"),  # not a finite number: treated as text
        (True, "True"),
        ("x\u202ey", "x\\u202ey"),
        ("\u2066=1", "\\u2066=1"),  # escaped first, so no longer at the start: a spreadsheet shows text
        ("\u200f-1", "\\u200f-1"),
    ],
)
def test_csv_cell(value, cell):
    assert csv_cell(value) == cell


def test_every_bidi_control_is_shown_escaped():
    controls = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    shown = show_bidi(f"a{controls}b")
    assert not set(controls) & set(shown)
    assert shown == "a" + "".join(f"\\u{ord(c):04x}" for c in controls) + "b"
    assert html_text('<b>"\u202e"</b>') == "&lt;b&gt;&quot;\\u202e&quot;&lt;/b&gt;"


def hostile_portfolio(db_url, clock):
    """Loans whose ids and reasons a lender (or a borrower's employer name) could have sent us."""
    svc = services(db_url, clock, None)
    now = clock.now()
    with session(svc.engine) as s:
        for loan_id, hold, reason in (
            (FORMULA, "manual_review", "-2+3+cmd|' /C calc'!A0"),
            (RLO, "needs_new_order", "order_finalized"),
            ("-1", None, None),
            ("L-1", None, None),
        ):
            s.add(
                Loan(
                    loan_id=loan_id,
                    order_id=f"order-{len(loan_id)}",
                    hold=hold,
                    hold_reason=reason,
                    hold_since=now if hold else None,
                    data_as_of=now - timedelta(days=40),
                    imported_at=now,
                    updated_at=now,
                )
            )
        s.flush()
        s.add(Connection(token_hash="a" * 64, state="needs_reauth", reason="@SUM(1)", since=now, updated_at=now))
        s.add(
            LoanConnection(loan_id=RLO, suborder_id="sub-1", order_id="order-1", kind="employer", token_hash="a" * 64)
        )
    clock.advance(-3 * 86400)  # the connection's `since` is 3 days after the report: days is negative
    return svc, build(svc, start=now.date(), end=now.date(), now=clock.now())


def test_compliance_csv_neutralises_formulas_and_shows_bidi(db_url, clock, tmp_path):
    _, report = hostile_portfolio(db_url, clock)
    loans_csv, exceptions_csv, _changes, _closing = write(report, "csv", tmp_path / "r.csv")
    for path in (loans_csv, exceptions_csv):
        text = path.read_text(encoding="utf-8")
        assert "\u202e" not in text and SHOWN_RLO in text
    with loans_csv.open(newline="", encoding="utf-8") as handle:
        ids = [row["loan_id"] for row in csv.DictReader(handle)]
    assert sorted(ids) == sorted(["'" + FORMULA, SHOWN_RLO, "'-1", "L-1"])
    with exceptions_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    by_kind = {(row[0], row[1]): row for row in rows[1:]}
    aside = by_kind[("manual_review", "'" + FORMULA)]
    assert aside[2] == "'-2+3+cmd|' /C calc'!A0"
    reauth = by_kind[("needs_reauth", SHOWN_RLO)]
    assert reauth[2].startswith("@SUM(1)") is False and reauth[2].startswith("'@SUM(1)")  # Truv's reason too
    assert float(reauth[4]) < 0 and not reauth[4].startswith("'")  # a number we computed stays a number
    assert ("needs_new_order", SHOWN_RLO) in by_kind
    # no cell anywhere, in either file, starts with a formula character
    with loans_csv.open(newline="", encoding="utf-8") as handle:
        cells = [c for row in csv.reader(handle) for c in row] + [c for row in rows for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and not _number(c))]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_compliance_html_and_json_show_bidi_escaped(db_url, clock, tmp_path):
    _, report = hostile_portfolio(db_url, clock)
    (page,) = write(report, "html", tmp_path / "r.html")
    text = page.read_text(encoding="utf-8")
    assert "\u202e" not in text and SHOWN_RLO in text
    assert "=HYPERLINK(&quot;http://x&quot;)" in text and FORMULA not in text  # HTML-escaped as before
    (dumped,) = write(report, "json", tmp_path / "r.json")
    assert "\u202e" not in dumped.read_text(encoding="utf-8")  # JSON writes it as the escape \u202e
    assert {loan["loan_id"] for loan in json.loads(dumped.read_text())["loans"]} >= {FORMULA, RLO}


@pytest.mark.parametrize("separator", [";", "\t", ",", "|"])
def test_a_formula_after_any_separator_stays_inside_its_cell(separator, tmp_path):
    """`A;=1+1` read by a spreadsheet that splits on `;` (or a tab, or `|`) must not give a cell `=1+1`."""
    from monitor.reports.safe_text import csv_writer

    path = tmp_path / "cells.csv"
    hostile = ["A;=1+1", "B\t=1+1", "C,=1+1", "D|@SUM(1)", "E;+1", "F;-1+cmd"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv_writer(handle).writerow([*hostile, -3, 2.5])
    with path.open(newline="", encoding="utf-8") as handle:
        cells = [c for row in csv.reader(handle, delimiter=separator) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not _number(c))], cells
