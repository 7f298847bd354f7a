"""How a loans file's attribute value is stored: the lower-case text matching reads (as
`monitor.core.matching.normalise` compares), and the file's own spelling when it differs."""

from __future__ import annotations

from monitor.core.matching import normalise


def normalised(value: str) -> str:
    """`normalise`, the way nearly every value takes it (a plain str) without its checks first."""
    return value.strip().lower() if type(value) is str else normalise(value)


def value_and_shown(value: str) -> tuple[str, str | None]:
    """The lower-case value matching reads, and the file's spelling when it differs (`Austin`)."""
    matched = normalised(value)
    spelt = value.strip() if type(value) is str else matched
    return matched, (spelt if spelt != matched else None)
