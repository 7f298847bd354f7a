"""What jobs, reports and the webhook receiver are handed: built by the composition root (`monitor.app`),
which only the entry points import.

`Context` reads and writes the database and sends nothing; `Services` is a `Context` with a Truv client,
required wherever something is sent. Both are frozen: a command that needs to send asks the root for
`Services` rather than adding a client to a `Context` it already holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.clock import Clock
from monitor.config import JobsFile
from monitor.core.budget import Limits
from monitor.store.db import Engine
from monitor.truv.client import TruvClient


@dataclass(frozen=True)
class Context:
    """Configuration, database and clock: enough to plan, report, receive webhooks and import loans."""

    config: JobsFile
    engine: Engine
    clock: Clock

    @property
    def limits(self) -> Limits:
        b = self.config.budgets
        return Limits(
            per_token=b.per_token_per_24h,
            gse=b.gse_per_90d,
            gse_overage=b.gse_overage,
            billable_per_day=b.billable_per_day,
            clock_skew_margin=b.clock_skew_margin,
        )

    def sending(self, client: TruvClient) -> Services:
        """The same context, able to send through `client`."""
        return Services(config=self.config, engine=self.engine, clock=self.clock, client=client)


@dataclass(frozen=True)
class Services(Context):
    """A context that sends to Truv (passes, polls, re-auth tokens): the client is always there."""

    client: TruvClient
