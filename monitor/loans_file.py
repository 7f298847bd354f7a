"""Reading a lender's loan export (CSV or JSONL) into validated rows, one at a time.

Everything a file can get wrong is an ImportFileError naming the file, the row and, where there is
one, the column: a wrong value, a NUL byte, a field spanning lines (an unbalanced quote), a field past
the CSV size limit, JSON nested too deeply, text that is not UTF-8. What the database can hold (column
widths) and when (a data date in the future) is checked by the store, which knows both.
"""

from __future__ import annotations

import csv
import difflib
import itertools
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, NamedTuple

from monitor.core.controls import has_controls
from monitor.errors import ImportFileError

REQUIRED = ("loan_id", "order_id")
KNOWN = ("loan_id", "order_id", "gse", "status", "closing_date", "data_as_of")
# Optional columns of what was underwritten (issue 22): checked here, kept with the loan's attributes.
UNDERWRITING = (
    "delivery_date",
    "qualifying_income",
    "qualifying_income_unit",
    "dti",
    "monthly_debts",
    "funds_to_close",
    "reserves",
)
COLUMNS = KNOWN + UNDERWRITING  # what a loans file may hold without declaring it in jobs.yaml
_AMOUNTS = ("qualifying_income", "monthly_debts", "funds_to_close", "reserves")
MAX_AMOUNT = Decimal("1000000000")  # a loan's figures are far below a billion; past it is a typo
INCOME_UNITS = ("monthly", "yearly")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
# A loan is a few hundred bytes: a JSONL line past this is not a loan, and is not read whole into memory.
MAX_JSONL_LINE = 1 << 20
# The loan dates a lender's file can mean (closing_date): anything outside is a typo or a placeholder
# (0001-01-01, 9999-12-31) that would break the date arithmetic of reports.
FIRST_LOAN_DAY = date(1900, 1, 1)
LAST_LOAN_DAY = date(2200, 12, 31)
_FIRST_LOAN_MOMENT = datetime(FIRST_LOAN_DAY.year, FIRST_LOAN_DAY.month, FIRST_LOAN_DAY.day, tzinfo=UTC)
# How much of a refused value an error message shows: enough to find it, never a whole swallowed file.
_SHOWN = 40


class LoanRow(NamedTuple):
    """One loan of a file. A named tuple, immutable as a frozen dataclass, made at a third of its cost:
    a 5M-loan import makes 5M of them (issue 26)."""

    row: int
    loan_id: str
    order_id: str
    gse: bool
    status: str
    closing_date: date | None
    data_as_of: datetime | None
    attributes: dict[str, str]


def _text(value: Any) -> str:
    if type(value) is str:  # nearly every value (all of a CSV's): the fast path of a 1M-row import
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def shown(value: Any) -> str:
    """A value as an error message quotes it: repr (NULs and line breaks visible), cut when long."""
    text = _text(value)
    if len(text) <= _SHOWN:
        return repr(text)
    return f"{text[:_SHOWN]!r}... ({len(text)} characters)"


def _unreadable(value: Any) -> str | None:
    """What makes a value unusable whatever its column, or None.

    NUL: Postgres refuses it in text and SQLite keeps it, so the two stores would disagree. A line
    break: no loan field has one, and it is what an unbalanced quote leaves (the rows after it
    swallowed into one field), which would otherwise import silently as one odd value.
    """
    if type(value) is str and "\x00" not in value and "\n" not in value and "\r" not in value:
        return None
    if isinstance(value, dict | list):
        return "a single value (text, number, true or false)"
    text = _text(value)
    if "\x00" in text:
        return "text without NUL bytes"
    if "\n" in text or "\r" in text:
        return 'a value on one line (an unbalanced " quote swallows the rows after it)'
    return None


def parse_row(raw: dict[str, Any], *, row: int, source: str) -> LoanRow:
    def bad(column: str, expected: str, value: Any) -> ImportFileError:
        return ImportFileError(
            source, f"row {row}, column {shown_column(column)}", f"expected {expected}, got {shown(value)}"
        )

    for key, value in raw.items():
        if key is None:  # a CSV row longer than its header: the reader refuses it first
            continue
        if expected := _unreadable(str(key)):
            raise ImportFileError(source, f"row {row}", f"expected column names as {expected}, got {shown(key)}")
        if expected := _unreadable(value):
            raise bad(str(key), expected, value)
    for column in REQUIRED:
        if not _text(raw.get(column)):
            raise ImportFileError(source, f"row {row}, column {column!r}", "required value is empty or missing")
    for column in REQUIRED:  # an id is typed and shown everywhere: ESC, BEL, C1 or U+2028 in it is an attack
        if has_controls(_text(raw.get(column))):
            raise bad(column, "an id without control characters", raw.get(column))
    gse_text = _text(raw.get("gse")).lower()
    if gse_text not in _TRUE | _FALSE:
        raise bad("gse", "true or false", raw.get("gse"))
    status = _text(raw.get("status")).lower() or "active"
    if status not in ("active", "closed"):
        raise bad("status", "active or closed", raw.get("status"))
    closing, as_of = _dates(raw, bad)
    attributes = {str(k).strip(): _text(v) for k, v in raw.items() if k is not None and str(k).strip() not in KNOWN}
    attributes.update(_underwriting(raw, bad))
    return LoanRow(
        row=row,
        loan_id=_text(raw["loan_id"]),
        order_id=_text(raw["order_id"]),
        gse=gse_text in _TRUE,
        status=status,
        closing_date=closing,
        data_as_of=as_of,
        attributes={k: v for k, v in attributes.items() if k},
    )


def _dates(raw: dict[str, Any], bad: Any) -> tuple[date | None, datetime | None]:
    """closing_date and data_as_of, each read and checked against the loan calendar (None when empty)."""
    closing: date | None = None
    if _text(raw.get("closing_date")):
        try:
            closing = date.fromisoformat(_text(raw.get("closing_date")))
        except ValueError:
            raise bad("closing_date", "a date as YYYY-MM-DD", raw.get("closing_date")) from None
        if not FIRST_LOAN_DAY <= closing <= LAST_LOAN_DAY:
            raise bad("closing_date", f"a date between {FIRST_LOAN_DAY} and {LAST_LOAN_DAY}", raw.get("closing_date"))
    as_of: datetime | None = None
    if _text(raw.get("data_as_of")):
        try:
            as_of = datetime.fromisoformat(_text(raw.get("data_as_of")).replace("Z", "+00:00"))
            # A date or a time without an offset is read as UTC: loan systems rarely say.
            as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
        except (ValueError, OverflowError):  # OverflowError: an offset pushing year 1 or 9999 past the calendar
            raise bad("data_as_of", "an ISO-8601 time like 2026-11-01T09:30:00Z", raw.get("data_as_of")) from None
        if as_of.date() < FIRST_LOAN_DAY:  # the future is the store's check (it knows now)
            raise bad("data_as_of", f"a time after {FIRST_LOAN_DAY}", raw.get("data_as_of"))
    return closing, as_of


def _amount(raw: dict[str, Any], column: str, bad: Any, *, top: Decimal = MAX_AMOUNT) -> str | None:
    text = _text(raw.get(column))
    if not text:
        return None
    try:
        value = Decimal(text.removesuffix("%") if column == "dti" else text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0 or value > top or (column == "dti" and value == 0):
        shape = (
            "a percentage like 43.5 (more than 0, at most 100)"
            if column == "dti"
            else f"an amount like 8500.00 (0 to {top:,})"
        )
        raise bad(column, shape, raw.get(column))
    return str(value)


def _underwriting(raw: dict[str, Any], bad: Any) -> dict[str, str]:
    """The optional underwriting columns, checked and normalised (an empty one is left out)."""
    out: dict[str, str] = {}
    for column in _AMOUNTS:
        if (value := _amount(raw, column, bad)) is not None:
            out[column] = value
    if (dti := _amount(raw, "dti", bad, top=Decimal(100))) is not None:
        out["dti"] = dti
    unit = _text(raw.get("qualifying_income_unit")).lower()
    if unit and unit not in INCOME_UNITS:
        raise bad("qualifying_income_unit", "monthly or yearly", raw.get("qualifying_income_unit"))
    if "qualifying_income" in out and not unit:
        raise bad(
            "qualifying_income_unit",
            "monthly or yearly (the unit of qualifying_income)",
            raw.get("qualifying_income_unit"),
        )
    if unit:
        out["qualifying_income_unit"] = unit
    if text := _text(raw.get("delivery_date")):
        try:
            delivery = date.fromisoformat(text)
        except ValueError:
            raise bad("delivery_date", "a date as YYYY-MM-DD", raw.get("delivery_date")) from None
        if not FIRST_LOAN_DAY <= delivery <= LAST_LOAN_DAY:
            raise bad("delivery_date", f"a date between {FIRST_LOAN_DAY} and {LAST_LOAN_DAY}", raw.get("delivery_date"))
        out["delivery_date"] = delivery.isoformat()
    return out


def shown_column(name: str) -> str:
    """A column name as an error's location quotes it."""
    return repr(name) if len(name) <= _SHOWN else shown(name)


@dataclass(frozen=True)
class Declared:
    """The attribute columns jobs.yaml declares (`loans: {attributes: [...]}`) and where it said so.

    Any other column beyond KNOWN is refused: a misspelt `closing_dt` imported as an attribute would
    silently switch the pre-closing rule off for every loan.
    """

    attributes: frozenset[str]
    config: str = "jobs.yaml"
    hint: str = ""  # appended to the refusal, e.g. how to write a jobs.yaml that does not exist yet

    def check(self, columns: Iterable[str], *, source: str, where: str) -> None:
        extra = [c for c in columns if c and c not in COLUMNS and c not in self.attributes]
        if extra:
            raise self._refusal(extra, source=source, where=where)

    def _refusal(self, extra: list[str], *, source: str, where: str) -> ImportFileError:
        candidates = [*COLUMNS, *sorted(self.attributes)]
        declared = ", ".join(sorted(self.attributes)) or "none"
        for column in extra:  # a typo of a known column first: it is the costly one
            close = difflib.get_close_matches(column, candidates, n=1, cutoff=0.6)
            if close:
                return ImportFileError(
                    source,
                    f"{where}, column {shown_column(column)}",
                    f"unknown column; did you mean {close[0]!r}? Nothing was imported "
                    f"(known columns: {', '.join(KNOWN)}; attributes {self.config} declares: {declared})",
                )
        wanted = ", ".join([*sorted(self.attributes), *dict.fromkeys(extra)])
        unique = list(dict.fromkeys(extra))
        listed = ", ".join(shown_column(c) for c in unique)
        return ImportFileError(
            source,
            f"{where}, column{'s' if len(unique) > 1 else ''} {listed}",
            f"not a loan field ({', '.join(KNOWN)}) nor an attribute declared in {self.config}; "
            f"to import {'them' if len(unique) > 1 else 'it'}, add to {self.config}: `loans: {{attributes: [{wanted}]}}`. Nothing was imported{self.hint}",
        )


def read_rows(path: Path, declared: Declared | None = None) -> Iterator[LoanRow]:
    """Rows in file order; the first bad row raises ImportFileError naming row and column.

    Row numbers are the line numbers a spreadsheet shows: the CSV header is row 1. With `declared`
    (what `loans import` passes from jobs.yaml), a column that is neither KNOWN nor declared is
    refused before any row is read; without it (tests, the demo's own file) every column is taken.
    """
    source = str(path)
    if not path.exists():
        raise ImportFileError(source, "", "file not found")
    if not path.is_file():  # a folder (`loans import /etc`), a device: no rows to read
        raise ImportFileError(source, "", "not a file; give a .csv or .jsonl file")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        yield from _read_jsonl(path, source, declared)
    elif suffix in (".csv", ".txt", ""):
        yield from _read_csv(path, source, declared)
    else:
        raise ImportFileError(source, "", f"expected a .csv or .jsonl file, got {suffix!r}")


def columns(path: Path, *, sample: int = 1000) -> list[str]:
    """The columns of a loans file in first-seen order: the CSV header, or the keys of the first
    `sample` JSONL objects. Rows are not validated; an unreadable file is an ImportFileError."""
    source = str(path)
    if not path.exists():
        raise ImportFileError(source, "", "file not found")
    if not path.is_file():  # a folder (`loans import /etc`), a device: no rows to read
        raise ImportFileError(source, "", "not a file; give a .csv or .jsonl file")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        seen: dict[str, None] = {}
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for _, line in itertools.islice(_jsonl_lines(handle, path, source), sample):
                try:
                    raw = json.loads(line) if line.strip() else {}
                except (RecursionError, ValueError):
                    continue  # `loans import` names the bad row; here only the columns matter
                if isinstance(raw, dict):
                    seen.update(dict.fromkeys(str(k).strip() for k in raw))
        return list(seen)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, strict=True)
        header = _csv_step(lambda: next(reader, []), path, source, 1)
    return [h.strip() for h in header]


def _not_utf8(path: Path, source: str) -> ImportFileError:
    """Name the first line that does not decode: the text reader only knows which buffer failed."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                hint = " (it looks like UTF-16)" if number == 1 and line[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
                return ImportFileError(
                    source,
                    f"row {number}",
                    f"not UTF-8 text (byte {exc.object[exc.start]:#04x}){hint}; save it as UTF-8",
                )
    return ImportFileError(source, "", "not UTF-8 text; save it as UTF-8")


def _read_csv(path: Path, source: str, declared: Declared | None) -> Iterator[LoanRow]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        # strict: a stray quote is an error instead of a guess; a quote left open to the end of the
        # file is "unexpected end of data" instead of the rest of the file as one field.
        reader = csv.reader(handle, strict=True)
        header = [h.strip() for h in _csv_step(lambda: next(reader, []), path, source, 1)]
        _check_header(header, source)
        if declared is not None:
            declared.check(header, source=source, where="row 1 (header)")
        fast = _FastCsv(header)
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
                    dict(itertools.zip_longest(header, values)), row=index, source=source
                )
        except csv.Error as exc:
            raise _csv_error(exc, source, index + 1) from None
        except UnicodeDecodeError:
            raise _not_utf8(path, source) from None


class _FastCsv:
    """parse_row for the common well-formed CSV row, without building a dict per row.

    `parse` answers None for anything it is not sure of (a missing value, an odd flag, a date it cannot
    read, a NUL or line break anywhere): parse_row then reads that row and names what is wrong, so the
    errors and their order stay parse_row's. Where `parse` answers, its LoanRow is parse_row's.
    """

    def __init__(self, header: list[str]) -> None:
        at = {name: i for i, name in enumerate(header)}
        self.width = len(header)
        self.loan_id, self.order_id = at["loan_id"], at["order_id"]
        self.gse, self.status = at.get("gse"), at.get("status")
        self.closing, self.as_of = at.get("closing_date"), at.get("data_as_of")
        self.attributes = [(name, i) for i, name in enumerate(header) if name and name not in KNOWN]
        self.underwriting = [i for i, name in enumerate(header) if name in UNDERWRITING]

    def parse(self, values: list[str], row: int) -> LoanRow | None:
        if any(values[i].strip() for i in self.underwriting if i < len(values)):
            return None  # underwriting values: parse_row checks and normalises them
        return self._parse(values, row)

    def _parse(self, values: list[str], row: int) -> LoanRow | None:
        if len(values) != self.width:
            return None
        joined = "".join(values)
        if "\x00" in joined or "\n" in joined or "\r" in joined:
            return None
        loan_id = values[self.loan_id].strip()
        order_id = values[self.order_id].strip()
        if not loan_id or not order_id or has_controls(loan_id + order_id):
            return None
        gse = False
        if self.gse is not None:
            flag = values[self.gse].strip().lower()
            if flag in _TRUE:
                gse = True
            elif flag not in _FALSE:
                return None
        status = "active"
        if self.status is not None:
            status = values[self.status].strip().lower() or "active"
            if status != "active" and status != "closed":
                return None
        closing: date | None = None
        as_of: datetime | None = None
        try:
            if self.closing is not None and (text := values[self.closing].strip()):
                closing = date.fromisoformat(text)
                if not FIRST_LOAN_DAY <= closing <= LAST_LOAN_DAY:
                    return None
            if self.as_of is not None and (text := values[self.as_of].strip()):
                as_of = datetime.fromisoformat(text.replace("Z", "+00:00"))
                if as_of.tzinfo is not UTC:
                    as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
                if as_of < _FIRST_LOAN_MOMENT:  # as_of.date() < FIRST_LOAN_DAY, without a date per row
                    return None
        except (ValueError, OverflowError):
            return None
        return LoanRow(
            row=row,
            loan_id=loan_id,
            order_id=order_id,
            gse=gse,
            status=status,
            closing_date=closing,
            data_as_of=as_of,
            attributes={name: values[i].strip() for name, i in self.attributes},
        )


def _csv_error(exc: csv.Error, source: str, row: int) -> ImportFileError:
    """An unbalanced quote, a field past csv.field_size_limit (128 KiB): named by the row being read."""
    hint = ' (a " quote left open?)' if "end of data" in str(exc) else ""
    return ImportFileError(source, f"row {row}", f"not valid CSV: {exc}{hint}")


def _csv_step(step: Any, path: Path, source: str, row: int) -> Any:
    """One read from the CSV reader, its failures as import errors naming the row being read."""
    try:
        return step()
    except csv.Error as exc:
        raise _csv_error(exc, source, row) from None
    except UnicodeDecodeError:
        raise _not_utf8(path, source) from None


def _check_header(header: list[str], source: str) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportFileError(source, "row 1 (header)", f"missing required column(s): {', '.join(missing)}")
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        raise ImportFileError(source, "row 1 (header)", f"repeated column(s): {', '.join(dupes)}")
    for name in header:
        if expected := _unreadable(name):
            raise ImportFileError(source, "row 1 (header)", f"expected column names as {expected}, got {shown(name)}")


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are each said once: json.loads would keep the last silently."""
    taken = dict(pairs)
    if len(taken) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return taken


def _read_jsonl(path: Path, source: str, declared: Declared | None) -> Iterator[LoanRow]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for index, line in _jsonl_lines(handle, path, source):
            if not line.strip():
                continue
            try:
                raw = json.loads(line, object_pairs_hook=_once)
            except _RepeatedKey as repeated:
                raise ImportFileError(
                    source, f"row {index}, column {shown_column(repeated.key)}", "repeated key: say it once"
                ) from None
            except RecursionError:
                raise ImportFileError(source, f"row {index}", "not valid JSON (nested too deeply)") from None
            except ValueError as exc:  # JSONDecodeError, or an integer past Python's 4,300-digit limit
                raise ImportFileError(source, f"row {index}", f"not valid JSON ({getattr(exc, 'msg', exc)})") from None
            if not isinstance(raw, dict):
                raise ImportFileError(source, f"row {index}", "expected a JSON object per line")
            if declared is not None:
                declared.check((str(k).strip() for k in raw), source=source, where=f"row {index}")
            yield parse_row(raw, row=index, source=source)


def _jsonl_lines(handle: IO[str], path: Path, source: str) -> Iterator[tuple[int, str]]:
    """Numbered lines, each read at most MAX_JSONL_LINE characters at a time (memory stays bounded)."""
    index = 0
    while True:
        index += 1
        try:
            line = handle.readline(MAX_JSONL_LINE + 1)
        except UnicodeDecodeError:
            raise _not_utf8(path, source) from None
        if not line:
            return
        if len(line) > MAX_JSONL_LINE:
            raise ImportFileError(source, f"row {index}", f"longer than {MAX_JSONL_LINE} characters: one loan per line")
        yield index, line
