"""A problem a validator found at a path below its own, and how messages list names."""

from __future__ import annotations

# Marks a job naming a policy the file does not define (the model's check and the raw file's agree).
UNDEFINED = "which is not defined"


class RefError(ValueError):
    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        self.more: list[RefError] = []  # further problems found by the same validator
        super().__init__(message)


def some(names: list[str], shown: int = 10) -> str:
    """A list for a message: the first few names, and how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def undefined_policy(name: str, known: str) -> str:
    return f"names policy {name!r}, {UNDEFINED} (policies: {known})"
