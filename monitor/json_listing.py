"""One JSON object whose list of rows is written out as the rows are made, not held until the end.

`plan --json` over a 5M-loan book lists up to 5M decisions, and its totals (which sort before and
after `loans`) are known only when the last is decided: the rows wait in a temporary file, as
JSON text, and are copied into the object between its other keys. The output is byte for byte what
`dumps(obj, sort_keys=True)` of the whole object would print.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TextIO

from monitor.core.readable import dumps


class SpooledRows:
    """Rows as the JSON array's items, kept on disk: memory holds one row at a time."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed by close/__exit__)
        self.count = 0

    def append(self, row: Mapping[str, Any]) -> None:
        if self.count:
            self._file.write(", ")
        self._file.write(dumps(row, sort_keys=True))
        self.count += 1

    def write_object(self, fields: Mapping[str, Any], key: str, out: TextIO) -> None:
        """`fields` with the rows under `key`, as one line of sorted-key JSON."""
        marker = f"rows-{uuid.uuid4().hex}"
        head, tail = dumps({**fields, key: marker}, sort_keys=True).split(f'"{marker}"')
        out.write(head)
        out.write("[")
        self._file.flush()
        self._file.seek(0)
        shutil.copyfileobj(self._file, out, 1 << 16)
        out.write("]")
        out.write(tail)
        out.write("\n")
        out.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SpooledRows:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
