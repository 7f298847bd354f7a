"""Text from outside made safe to show (README "Outputs" and the report section): a CSV cell starting
with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (OWASP), numbers we compute stay
numbers, and bidi control characters are shown as `\\u202e` in CSV and HTML."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.reports.safe_text import BIDI_CONTROLS, csv_cell, csv_writer, html_text, show_bidi


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("L-1004", "L-1004"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-1", "'-1"),  # a lender's id is text, not arithmetic
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),  # only the first character matters
        (" =x", " =x"),
        ("", ""),
        (None, ""),
        # numbers our code writes stay numbers, negative ones too
        (3, 3),
        (-2, -2),
        (1.5, 1.5),
        (-0.25, -0.25),
        # not numbers: text
        (True, "True"),
        (float("nan"), "nan"),
        (float("-inf"), "'-inf"),
        # bidi controls shown, not applied; escaping comes before the formula check
        ("L\u202e1", "L\\u202e1"),
        ("\u202e=1", "\\u202e=1"),
    ],
)
def test_csv_cell(value, cell):
    got = csv_cell(value)
    assert got == cell and type(got) is type(cell)


@pytest.mark.parametrize("control", list(BIDI_CONTROLS))
def test_every_bidi_control_is_shown_escaped(control):
    shown = show_bidi(f"a{control}b")
    assert control not in shown and shown == f"a\\u{ord(control):04x}b"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("\"quoted\" & 'single'", "&quot;quoted&quot; &amp; &#x27;single&#x27;"),
        ("L\u2066x", "L\\u2066x"),
        (42, "42"),
    ],
)
def test_html_text(value, shown):
    assert html_text(value) == shown


def test_the_writer_passes_every_cell_through():
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["=1+1", -1, None, "ok"])
    writer.writerows([["@x", 2.5], ["\u202eevil"]])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [["'=1+1", "-1", "", "ok"], ["'@x", "2.5"], ["\\u202eevil"]]


@settings(deadline=None)
@given(st.text())
def test_no_text_cell_can_start_a_formula_or_carry_a_bidi_control(text):
    cell = csv_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert not set(cell) & set(BIDI_CONTROLS)
    # nothing is lost: the cell is the text, shown, with at most a leading quote
    assert cell.removeprefix("'") == show_bidi(text) or cell == show_bidi(text)
