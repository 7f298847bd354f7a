"""A policy's selection read once, in one short transaction, and kept on disk a page at a time.

The plan works through its candidates for as long as its order reads take (hours on a new book's
first night, at Truv's pace): read from an open cursor, that would hold a read transaction as long
(SQLite's WAL could not be checkpointed past it, Postgres could not vacuum past it). Held in a list,
500k candidates of a 5M-loan book were 270 MB (issue 26). Spooled, the transaction is as short as
the list's was, and memory holds one page.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator
from itertools import islice
from types import TracebackType

from monitor.store.loan_selection import Candidate

PAGE = 1000  # candidates written and read back at a time


class CandidateSpool:
    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close/__exit__)
        self.count = 0

    def extend(self, found: Iterable[Candidate]) -> None:
        rows = iter(found)
        while page := [
            (c.loan_id, c.order_id, c.base_order_id, c.gse, c.closing_date, c.data_as_of, c.details_fetched_at)
            for c in islice(rows, PAGE)
        ]:
            pickle.dump(page, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self.count += len(page)

    def __iter__(self) -> Iterator[Candidate]:
        self._file.flush()
        self._file.seek(0)
        left = self.count
        while left:
            page = pickle.load(self._file)  # a file of this process's own, unlinked: nobody else writes it
            left -= len(page)
            for row in page:
                yield Candidate(*row)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CandidateSpool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
