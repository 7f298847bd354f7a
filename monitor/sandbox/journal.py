"""Append-only record of every request the sandbox answered: the oracle for crash tests."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import TextIO


def token_hash(access_token: str) -> str:
    """The journal never holds raw tokens; tests compare these digests instead."""
    return hashlib.sha256(access_token.encode()).hexdigest()


class Journal:
    """In-memory list of entries, mirrored as JSON lines to `path` when given.

    Each line is flushed as written so another process can tail the file while the
    sandbox runs.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self._entries: list[dict[str, object]] = []
        self._file: TextIO | None = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115

    def append(self, entry: dict[str, object]) -> dict[str, object]:
        entry = {"seq": len(self._entries) + 1, **entry}
        self._entries.append(entry)
        if self._file is not None:
            self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
            self._file.flush()
        return entry

    def entries(self) -> list[dict[str, object]]:
        return copy.deepcopy(self._entries)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
