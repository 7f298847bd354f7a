"""The attribute columns jobs.yaml declares: any other column beyond the known ones is refused."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.errors import ImportFileError
from monitor.loans_file.columns import COLUMNS, KNOWN
from monitor.loans_file.values import shown_column


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
