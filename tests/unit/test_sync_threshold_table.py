"""When a pass walks Truv's whole order list instead of reading each new loan's order (issue 26 point 1)."""

from __future__ import annotations

import pytest

from monitor.jobs.order_sync import worth_a_full_walk


@pytest.mark.parametrize(
    ("lacking", "active", "walk"),
    [
        (0, 0, False),
        (100, 100, False),  # a page's worth: as cheap to read one by one
        (101, 101, True),  # more than a page, and than the walk's 3 pages
        (300, 300, True),
        (1_000, 1_000, True),
        (100_000, 100_000, True),  # 2,000 pages against 100,000 reads
        (1_000, 1_000_000, False),  # a new batch on a large book: 1,000 reads beat 20,000 pages
        (20_000, 1_000_000, False),
        (20_001, 1_000_000, True),
    ],
)
def test_the_walk_when_it_costs_fewer_calls_than_the_single_reads(lacking, active, walk):
    assert worth_a_full_walk(lacking, active) is walk
