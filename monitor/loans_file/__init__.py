"""Reading a lender's loan export (CSV or JSONL) into validated rows, one at a time.

Everything a file can get wrong is an ImportFileError naming the file, the row and, where there is
one, the column: a wrong value, a NUL byte, a field spanning lines (an unbalanced quote), a field past
the CSV size limit, JSON nested too deeply, text that is not UTF-8. What the database can hold (column
widths) and when (a data date in the future) is checked by the store, which knows both.

The rooms: columns.py (what a row may hold, LoanRow), values.py (text and how errors quote it), row.py
(one row as a mapping, every value checked), fast_csv.py (the common CSV row without a mapping),
csv_rows.py and jsonl_rows.py (the two formats), declared.py (the attributes jobs.yaml declares).
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

from monitor.errors import ImportFileError
from monitor.loans_file.columns import COLUMNS, KNOWN, REQUIRED, UNDERWRITING, LoanRow
from monitor.loans_file.csv_rows import csv_step, read_csv
from monitor.loans_file.declared import Declared
from monitor.loans_file.jsonl_rows import MAX_JSONL_LINE, jsonl_lines, read_jsonl
from monitor.loans_file.row import parse_row
from monitor.loans_file.values import shown, shown_column

__all__ = [
    "COLUMNS",
    "KNOWN",
    "MAX_JSONL_LINE",
    "REQUIRED",
    "UNDERWRITING",
    "Declared",
    "LoanRow",
    "columns",
    "parse_row",
    "read_rows",
    "shown",
    "shown_column",
]
_JSONL = (".jsonl", ".ndjson", ".json")


def read_rows(path: Path, declared: Declared | None = None) -> Iterator[LoanRow]:
    """Rows in file order; the first bad row raises ImportFileError naming row and column.

    Row numbers are the line numbers a spreadsheet shows: the CSV header is row 1. With `declared`
    (what `loans import` passes from jobs.yaml), a column that is neither KNOWN nor declared is
    refused before any row is read; without it (tests, the demo's own file) every column is taken.
    """
    source = str(path)
    _check_file(path, source)
    suffix = path.suffix.lower()
    if suffix in _JSONL:
        yield from read_jsonl(path, source, declared)
    elif suffix in (".csv", ".txt", ""):
        yield from read_csv(path, source, declared)
    else:
        raise ImportFileError(source, "", f"expected a .csv or .jsonl file, got {suffix!r}")


def _check_file(path: Path, source: str) -> None:
    if not path.exists():
        raise ImportFileError(source, "", "file not found")
    if not path.is_file():  # a folder (`loans import /etc`), a device: no rows to read
        raise ImportFileError(source, "", "not a file; give a .csv or .jsonl file")


def columns(path: Path, *, sample: int = 1000) -> list[str]:
    """The columns of a loans file in first-seen order: the CSV header, or the keys of the first
    `sample` JSONL objects. Rows are not validated; an unreadable file is an ImportFileError."""
    source = str(path)
    _check_file(path, source)
    if path.suffix.lower() in _JSONL:
        return _jsonl_columns(path, source, sample)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, strict=True)
        header = csv_step(lambda: next(reader, []), path, source, 1)
    return [h.strip() for h in header]


def _jsonl_columns(path: Path, source: str, sample: int) -> list[str]:
    seen: dict[str, None] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for _, line in itertools.islice(jsonl_lines(handle, path, source), sample):
            try:
                raw = json.loads(line) if line.strip() else {}
            except (RecursionError, ValueError):
                continue  # `loans import` names the bad row; here only the columns matter
            if isinstance(raw, dict):
                seen.update(dict.fromkeys(str(k).strip() for k in raw))
    return list(seen)
