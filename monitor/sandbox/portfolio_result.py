"""What `generate_portfolio` returns (`Portfolio`: the loans-file rows and what only a test may know)
and what it keeps of each loan it seeded (`SeededLoan`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.sandbox.employer_spec import EmployerSpec
from monitor.sandbox.model import parse_time
from monitor.sandbox.order_shapes import OrderJson
from monitor.sandbox.scripted_listing import ScriptedChangeJson


class Portfolio(list[dict[str, str]]):
    """The loans-file rows `generate_portfolio` returns, plus what only a test may know.

    `truth_completed_at` maps each loan_id to its order's order-level `completed_at` (when its data was
    collected; ISO, `Z`); it is never a column of the rows, so it cannot leak into a
    loans file. `scripted` maps each loan given a scripted change to its [(kind, at_refresh)],
    and `scripted_detail` to the matching `Sandbox.scripted_changes()` entries (link_id,
    employment_id, new_employment_id, ...); loans not in them are unchanged. Compares equal
    to a plain list of the same rows.
    """

    def __init__(
        self,
        rows: Iterable[dict[str, str]] = (),
        truth_completed_at: Mapping[str, str] | None = None,
        scripted: Mapping[str, list[tuple[str, int]]] | None = None,
        scripted_detail: Mapping[str, list[ScriptedChangeJson]] | None = None,
    ) -> None:
        super().__init__(rows)
        self.truth_completed_at: dict[str, str] = dict(truth_completed_at or {})
        self.scripted: dict[str, list[tuple[str, int]]] = {k: list(v) for k, v in (scripted or {}).items()}
        self.scripted_detail: dict[str, list[ScriptedChangeJson]] = {
            k: list(v) for k, v in (scripted_detail or {}).items()
        }

    def stale_loan_ids(self, older_than_days: float, now: datetime) -> set[str]:
        """Loans whose data (oldest connection) is more than `older_than_days` old at `now`."""
        limit = now - timedelta(days=older_than_days)
        return {loan for loan, moment in self.truth_completed_at.items() if parse_time(moment) < limit}


@dataclass(frozen=True, slots=True)
class SeededLoan:
    """One generated loan: its row, its order as seeded and the specs it was seeded from."""

    loan_id: str
    row: dict[str, str]
    row_truth: str  # the order's completed_at, ISO `Z`
    order: OrderJson
    specs: list[EmployerSpec]
