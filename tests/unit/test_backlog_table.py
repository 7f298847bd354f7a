"""The nights-to-clear estimate (issue 14, point 3) as tables: capacity, then nights per policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.core.backlog import job_capacity, nightly_capacity, nights_to_clear


@pytest.mark.parametrize(
    ("max_refreshes", "passes", "cap", "share", "expected"),
    [
        (150, 1, None, 1.0, 150),  # one pass a night at max_refreshes
        (150, 2, None, 1.0, 300),  # two passes a night
        (150, 0, None, 1.0, 150),  # a schedule that fires less than daily still runs once
        (150, 1, 100, 1.0, 100),  # every waiting loan billable: the daily cap binds
        (150, 1, 100, 0.5, 150),  # half are GSE (free): 200 a day would stay under the cap
        (150, 1, 60, 0.5, 120),  # half billable: 60 billable a day means 120 in all
        (150, 1, 100, 0.0, 150),  # all GSE: the billable cap does not apply
        (150, 1, 0, 1.0, 0),  # no billable refresh at all
        (0, 1, None, 1.0, 0),  # max_refreshes 0
    ],
)
def test_nightly_capacity(max_refreshes, passes, cap, share, expected):
    got = nightly_capacity(
        max_refreshes=max_refreshes, passes_per_night=passes, billable_per_day=cap, billable_share=share
    )
    assert got == expected


@pytest.mark.parametrize(
    ("waiting", "capacity", "expected"),
    [
        ([], 150, []),
        ([0], 150, [0]),
        ([1], 150, [1]),
        ([150], 150, [1]),
        ([151], 150, [2]),
        ([1900], 150, [13]),  # the first week: ~1,900 stale loans at max_refreshes 150
        ([100, 100], 150, [1, 2]),  # the second policy waits for the first (job order)
        ([300, 0], 150, [2, 0]),  # nothing of its own waiting: clear now, whatever the first has
        ([0, 45], 150, [0, 1]),
        ([10, 10], 0, [None, None]),  # no capacity: never at these limits
        ([0, 10], 0, [0, None]),
    ],
)
def test_nights_to_clear(waiting, capacity, expected):
    assert nights_to_clear(waiting, capacity=capacity) == expected


def test_job_capacity_counts_the_schedule_and_the_gse_share():
    now = datetime(2026, 6, 5, 12, tzinfo=UTC)
    nightly = {"schedule": "0 2 * * *", "timezone": "UTC", "now": now}
    assert job_capacity(max_refreshes=150, billable_per_day=None, waiting=10, waiting_gse=0, **nightly) == 150
    hourly = {**nightly, "schedule": "0 * * * *"}
    assert job_capacity(max_refreshes=10, billable_per_day=None, waiting=10, waiting_gse=0, **hourly) == 240
    # 100 billable a day; a quarter of what waits is GSE, so 133 refreshes keep 100 billable
    assert job_capacity(max_refreshes=500, billable_per_day=100, waiting=400, waiting_gse=100, **nightly) == 133
