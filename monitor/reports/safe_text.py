"""Text from outside (a lender's loan ids and attributes, Truv's reasons) made safe to show: in a
spreadsheet that opens our CSV files, and to a reader of the HTML report.

Every CSV the project writes as a report goes through `csv_writer`, which passes each cell through
`csv_cell`:

* Text starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (OWASP, CSV
  injection): a spreadsheet would otherwise run it as a formula (`=HYPERLINK(...)`, `=cmd|...`).
  That includes text that looks like a negative number: a loan id "-1" becomes "'-1", which a
  spreadsheet shows as the text -1; a lender's id is text, not arithmetic.
* The same after any character a spreadsheet may split on (`,` `;` tab `|`, with spaces or quotes
  between): a spreadsheet set to split on `;` reads `A;=1+1` as a second cell `=1+1`, and quoting
  does not stop it (its quotes pair with our commas, not its semicolons), so the `'` goes after the
  separator: `A;'=1+1` (issue 25 point 14).
* Numbers our code writes as numbers (int or float, finite) are written as they are: a negative count
  or duration is a number, not a formula, and `str()` of one cannot carry anything else.
* On a terminal (monitor.core.controls.show_controls, what monitor/render.py prints through), control characters too:
  ESC, BEL, C1 and U+2028/U+2029 would colour, clear or retitle the operator's window (issue 25 point 10).
* Bidi control characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) are shown escaped as
  `\\u202e`: applied, they reorder what a reader sees, so an id could read as another one.
"""

from __future__ import annotations

import csv
import html
import math
import re
from collections.abc import Iterable
from typing import IO, Any

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_SHOW_BIDI = {ord(ch): f"\\u{ord(ch):04x}" for ch in BIDI_CONTROLS}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# a separator a spreadsheet may split on, then (past spaces and quotes) a formula start
_AFTER_SEPARATOR = re.compile(r'([,;\t|])(?=[ "]*[=+\-@\t\r])')


def show_bidi(text: str) -> str:
    """`text` with every bidi control character written out as an escape (`\\u202e`)."""
    return text.translate(_SHOW_BIDI)


def html_text(value: Any) -> str:
    """A value for an HTML page: bidi controls shown, then HTML-escaped."""
    return html.escape(show_bidi(str(value)))


def csv_cell(value: Any) -> Any:
    """One CSV cell, safe to open in a spreadsheet (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    text = show_bidi(str(value))
    text = _AFTER_SEPARATOR.sub(r"\1'", text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeCsvWriter:
    """csv.writer whose every cell goes through `csv_cell`, so a row added later cannot forget it."""

    def __init__(self, handle: IO[str]) -> None:
        self._writer = csv.writer(handle)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(handle: IO[str]) -> SafeCsvWriter:
    return SafeCsvWriter(handle)
