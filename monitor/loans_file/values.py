"""A file's values as text, as error messages quote them, and what makes one unreadable in any column."""

from __future__ import annotations

from pathlib import Path

from monitor.errors import ImportFileError

# How much of a refused value an error message shows: enough to find it, never a whole swallowed file.
_SHOWN = 40


def text(value: object) -> str:
    if type(value) is str:  # nearly every value (all of a CSV's): the fast path of a 1M-row import
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def shown(value: object) -> str:
    """A value as an error message quotes it: repr (NULs and line breaks visible), cut when long."""
    cell = text(value)
    if len(cell) <= _SHOWN:
        return repr(cell)
    return f"{cell[:_SHOWN]!r}... ({len(cell)} characters)"


def shown_column(name: str) -> str:
    """A column name as an error's location quotes it."""
    return repr(name) if len(name) <= _SHOWN else shown(name)


def unreadable(value: object) -> str | None:
    """What makes a value unusable whatever its column, or None.

    NUL: Postgres refuses it in text and SQLite keeps it, so the two stores would disagree. A line
    break: no loan field has one, and it is what an unbalanced quote leaves (the rows after it
    swallowed into one field), which would otherwise import silently as one odd value.
    """
    if type(value) is str and "\x00" not in value and "\n" not in value and "\r" not in value:
        return None
    if isinstance(value, dict | list):
        return "a single value (text, number, true or false)"
    cell = text(value)
    if "\x00" in cell:
        return "text without NUL bytes"
    if "\n" in cell or "\r" in cell:
        return 'a value on one line (an unbalanced " quote swallows the rows after it)'
    return None


def not_utf8(path: Path, source: str) -> ImportFileError:
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
