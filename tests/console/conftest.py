"""The console's sign-in limits run on the test's clock, as every other time rule does."""

from __future__ import annotations

import pytest

from monitor.clock import FixedClock
from tests.console.world import limiter_on


@pytest.fixture(autouse=True)
def _limiter_on_the_test_clock(clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    limiter_on(clock, monkeypatch)
