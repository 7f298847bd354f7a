"""A CSV loans file read row by row: the header checked, each row through the fast path, else parse_row."""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import ImportFileError
from monitor.loans_file.columns import REQUIRED, LoanRow
from monitor.loans_file.fast_csv import FastCsv
from monitor.loans_file.row import parse_row
from monitor.loans_file.values import not_utf8, shown, unreadable

if TYPE_CHECKING:
    from monitor.loans_file.declared import Declared


def read_csv(path: Path, source: str, declared: Declared | None) -> Iterator[LoanRow]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        # strict: a stray quote is an error instead of a guess; a quote left open to the end of the
        # file is "unexpected end of data" instead of the rest of the file as one field.
        reader = csv.reader(handle, strict=True)
        header = [h.strip() for h in csv_step(lambda: next(reader, []), path, source, 1)]
        _check_header(header, source)
        if declared is not None:
            declared.check(header, source=source, where="row 1 (header)")
        fast = FastCsv(header)
        width = len(header)
        index = 1
        try:
            for values in reader:
                if not values:  # a blank line is no record (as csv.DictReader skips it)
                    continue
                index += 1
                if len(values) > width:
                    raise ImportFileError(source, f"row {index}", f"has more fields than the header's {width}")
                yield fast.parse(values, index) or parse_row(
                    dict(zip(header, itertools.chain(values, itertools.repeat(None)), strict=False)),
                    row=index,
                    source=source,
                )
        except csv.Error as exc:
            raise _csv_error(exc, source, index + 1) from None
        except UnicodeDecodeError:
            raise not_utf8(path, source) from None


def _csv_error(exc: csv.Error, source: str, row: int) -> ImportFileError:
    """An unbalanced quote, a field past csv.field_size_limit (128 KiB): named by the row being read."""
    hint = ' (a " quote left open?)' if "end of data" in str(exc) else ""
    return ImportFileError(source, f"row {row}", f"not valid CSV: {exc}{hint}")


def csv_step(step: Callable[[], list[str]], path: Path, source: str, row: int) -> list[str]:
    """One read from the CSV reader, its failures as import errors naming the row being read."""
    try:
        return step()
    except csv.Error as exc:
        raise _csv_error(exc, source, row) from None
    except UnicodeDecodeError:
        raise not_utf8(path, source) from None


def _check_header(header: list[str], source: str) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportFileError(source, "row 1 (header)", f"missing required column(s): {', '.join(missing)}")
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        raise ImportFileError(source, "row 1 (header)", f"repeated column(s): {', '.join(dupes)}")
    for name in header:
        if expected := unreadable(name):
            raise ImportFileError(source, "row 1 (header)", f"expected column names as {expected}, got {shown(name)}")
