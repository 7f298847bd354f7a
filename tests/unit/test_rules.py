from datetime import UTC, datetime, timedelta

import pytest

from monitor.core.matching import matches
from monitor.core.outcomes import Outcome, classify, retry_at
from monitor.core.products import refresh_product_allowed


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("done", Outcome.COMPLETED),
        ("completed", Outcome.COMPLETED),
        ("login_error", Outcome.REAUTH),
        ("mfa_error", Outcome.REAUTH),
        ("account_locked", Outcome.REAUTH),
        ("unable_to_reset", Outcome.REAUTH),
        ("unavailable", Outcome.RETRY),
        ("error", Outcome.RETRY),
        ("no_data", Outcome.MANUAL),
        ("not_supported", Outcome.MANUAL),
        ("config_error", Outcome.MANUAL),
        ("pending", Outcome.PENDING),
        ("full_parse", Outcome.PENDING),
        ("something_new", Outcome.MANUAL),
        (None, Outcome.MANUAL),
    ],
)
def test_classify(status, outcome):
    assert classify(status) is outcome


def test_retry_backoff_doubles_and_caps():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert [retry_at(n, now) - now for n in (1, 2, 3, 4, 5)] == [
        timedelta(hours=6),
        timedelta(hours=12),
        timedelta(hours=24),
        timedelta(hours=48),
        timedelta(hours=72),
    ]


@pytest.mark.parametrize(
    ("order", "product", "ok"),
    [
        (["income"], "income", True),
        (["income"], "employment", True),
        (["employment"], "employment", True),
        (["employment"], "income", False),
        (["assets"], "assets", True),
        (["assets"], "income", False),
        (["income"], "assets", False),
    ],
)
def test_one_product_rule(order, product, ok):
    assert refresh_product_allowed(order, product) is ok


@pytest.mark.parametrize(
    ("match", "fields", "ok"),
    [
        ({}, {"gse": False}, True),
        ({"gse": True}, {"gse": True}, True),
        ({"gse": True}, {"gse": "false"}, False),
        ({"program": ["fha", "va"]}, {"program": "VA"}, True),
        ({"program": ["fha", "va"]}, {"program": "jumbo"}, False),
        ({"program": "fha"}, {}, False),
        ({"gse": True, "program": "fha"}, {"gse": "true", "program": "fha"}, True),
    ],
)
def test_match(match, fields, ok):
    assert matches(match, fields) is ok
