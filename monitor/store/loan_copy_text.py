"""A batch of loans in Postgres COPY's text format: tab-separated, `\\N` for null, escapes for what
the format reads as structure (a tab, a newline, a backslash)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.loans_file import LoanRow
from monitor.store.loan_attribute_values import value_and_shown


@dataclass(frozen=True, slots=True)
class Staged:
    """A batch in COPY's text format: the loans (with their row numbers) and their attributes."""

    loans: str
    attributes: str

    @classmethod
    def of(cls, batch: Iterable[LoanRow]) -> Staged:
        # Made by the thread reading the file: the worker then sends it whole, taking the GIL back a
        # few times per batch instead of once per row (each time behind the reading thread).
        loans: list[str] = []
        attributes: list[str] = []
        for r in batch:
            closing = r.closing_date.isoformat() if r.closing_date is not None else "\\N"
            as_of = r.data_as_of.isoformat() if r.data_as_of is not None else "\\N"
            loan_id = copy_text(r.loan_id)
            gse = "t" if r.gse else "f"
            loans.append(
                f"{r.row}\t{loan_id}\t{copy_text(r.order_id)}\t{gse}\t{copy_text(r.status)}\t{closing}\t{as_of}\n"
            )
            for k, v in r.attributes.items():
                if v != "":
                    matched, spelt = value_and_shown(v)
                    shown = "\\N" if spelt is None else copy_text(spelt)
                    attributes.append(f"{loan_id}\t{copy_text(k)}\t{copy_text(matched)}\t{shown}\n")
        return cls("".join(loans), "".join(attributes))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str) -> str:
    """A value as COPY's text format reads it back unchanged."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value
