"""Reading a lender's loan export (CSV or JSONL) into validated rows, one at a time."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from monitor.errors import ImportFileError

REQUIRED = ("loan_id", "order_id")
KNOWN = ("loan_id", "order_id", "gse", "status", "closing_date", "data_as_of")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


@dataclass(frozen=True, slots=True)
class LoanRow:
    row: int
    loan_id: str
    order_id: str
    gse: bool
    status: str
    closing_date: date | None
    data_as_of: datetime | None
    attributes: dict[str, str] = field(default_factory=dict)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def parse_row(raw: dict[str, Any], *, row: int, source: str) -> LoanRow:
    def bad(column: str, expected: str, value: Any) -> ImportFileError:
        return ImportFileError(source, f"row {row}, column {column!r}", f"expected {expected}, got {_text(value)!r}")

    for column in REQUIRED:
        if not _text(raw.get(column)):
            raise ImportFileError(source, f"row {row}, column {column!r}", "required value is empty or missing")
    gse_text = _text(raw.get("gse")).lower()
    if gse_text not in _TRUE | _FALSE:
        raise bad("gse", "true or false", raw.get("gse"))
    status = _text(raw.get("status")).lower() or "active"
    if status not in ("active", "closed"):
        raise bad("status", "active or closed", raw.get("status"))
    closing: date | None = None
    if _text(raw.get("closing_date")):
        try:
            closing = date.fromisoformat(_text(raw.get("closing_date")))
        except ValueError:
            raise bad("closing_date", "a date as YYYY-MM-DD", raw.get("closing_date")) from None
    as_of: datetime | None = None
    if _text(raw.get("data_as_of")):
        try:
            as_of = datetime.fromisoformat(_text(raw.get("data_as_of")).replace("Z", "+00:00"))
        except ValueError:
            raise bad("data_as_of", "an ISO-8601 time like 2026-11-01T09:30:00Z", raw.get("data_as_of")) from None
        # A date or a time without an offset is read as UTC: loan systems rarely say.
        as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
    attributes = {str(k).strip(): _text(v) for k, v in raw.items() if k is not None and str(k).strip() not in KNOWN}
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


def read_rows(path: Path) -> Iterator[LoanRow]:
    """Rows in file order; the first bad row raises ImportFileError naming row and column.

    Row numbers are the line numbers a spreadsheet shows: the CSV header is row 1.
    """
    source = str(path)
    if not path.exists():
        raise ImportFileError(source, "", "file not found")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        yield from _read_jsonl(path, source)
    elif suffix in (".csv", ".txt", ""):
        yield from _read_csv(path, source)
    else:
        raise ImportFileError(source, "", f"expected a .csv or .jsonl file, got {suffix!r}")


def _read_csv(path: Path, source: str) -> Iterator[LoanRow]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ImportFileError(source, "row 1 (header)", f"missing required column(s): {', '.join(missing)}")
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise ImportFileError(source, "row 1 (header)", f"repeated column(s): {', '.join(dupes)}")
        reader.fieldnames = header
        for index, raw in enumerate(reader, start=2):
            if None in raw:
                raise ImportFileError(source, f"row {index}", f"has more fields than the header's {len(header)}")
            yield parse_row(raw, row=index, source=source)


def _read_jsonl(path: Path, source: str) -> Iterator[LoanRow]:
    with path.open(encoding="utf-8") as handle:
        for index, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ImportFileError(source, f"row {index}", f"not valid JSON ({exc.msg})") from None
            if not isinstance(raw, dict):
                raise ImportFileError(source, f"row {index}", "expected a JSON object per line")
            yield parse_row(raw, row=index, source=source)
