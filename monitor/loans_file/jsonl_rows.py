"""A JSONL loans file read line by line: one JSON object per loan, its keys each said once, memory bounded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from monitor.errors import ImportFileError
from monitor.loans_file.columns import LoanRow
from monitor.loans_file.row import parse_row
from monitor.loans_file.values import not_utf8, shown_column

if TYPE_CHECKING:
    from monitor.loans_file.declared import Declared

# A loan is a few hundred bytes: a JSONL line past this is not a loan, and is not read whole into memory.
MAX_JSONL_LINE = 1 << 20


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _once(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose keys are each said once: json.loads would keep the last silently."""
    taken = dict(pairs)
    if len(taken) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return taken


def read_jsonl(path: Path, source: str, declared: Declared | None) -> Iterator[LoanRow]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for index, line in jsonl_lines(handle, path, source):
            if not line.strip():
                continue
            raw = _loaded(line, index, source)
            if declared is not None:
                declared.check((str(k).strip() for k in raw), source=source, where=f"row {index}")
            yield parse_row(raw, row=index, source=source)


def _loaded(line: str, index: int, source: str) -> dict[str, object]:
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
    return raw


def jsonl_lines(handle: IO[str], path: Path, source: str) -> Iterator[tuple[int, str]]:
    """Numbered lines, each read at most MAX_JSONL_LINE characters at a time (memory stays bounded)."""
    index = 0
    while True:
        index += 1
        try:
            line = handle.readline(MAX_JSONL_LINE + 1)
        except UnicodeDecodeError:
            raise not_utf8(path, source) from None
        if not line:
            return
        if len(line) > MAX_JSONL_LINE:
            raise ImportFileError(source, f"row {index}", f"longer than {MAX_JSONL_LINE} characters: one loan per line")
        yield index, line
