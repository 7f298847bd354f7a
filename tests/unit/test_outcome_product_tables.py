"""Outcomes, products and policy matching as tables (DESIGN.md "Failure outcomes", rules 5 and 10;
truv-api.md sections 2, 3 and 5; README "Outcomes" and `policies[].match`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import PRODUCTS
from monitor.core.matching import matches, normalise
from monitor.core.outcomes import Outcome, classify, retry_at
from monitor.core.products import FILTER_KEYS, SCOPES, refresh_product_allowed, scope_of

NOW = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)

# -- outcomes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        # a task in progress (truv-api.md 5): new -> login -> mfa -> parse (base_parse) -> full_parse
        ("new", Outcome.PENDING),
        ("login", Outcome.PENDING),
        ("mfa", Outcome.PENDING),
        ("parse", Outcome.PENDING),
        ("base_parse", Outcome.PENDING),
        ("full_parse", Outcome.PENDING),
        # a suborder not final yet (truv-api.md 3)
        ("pending", Outcome.PENDING),
        ("sent", Outcome.PENDING),
        # fresh data
        ("done", Outcome.COMPLETED),
        ("completed", Outcome.COMPLETED),
        # the borrower must reconnect
        ("login_error", Outcome.REAUTH),
        ("mfa_error", Outcome.REAUTH),
        ("account_locked", Outcome.REAUTH),
        ("unable_to_reset", Outcome.REAUTH),
        # the provider's side: retried later
        ("unavailable", Outcome.RETRY),
        ("error", Outcome.RETRY),
        # nothing to retry
        ("no_data", Outcome.MANUAL),
        ("not_supported", Outcome.MANUAL),
        ("config_error", Outcome.MANUAL),
        # terminal suborder statuses without data
        ("canceled", Outcome.MANUAL),
        ("expired", Outcome.MANUAL),
        ("skipped", Outcome.MANUAL),
        # unknown: never guessed as a retry (it could spend budget for nothing)
        ("switch_deposit", Outcome.MANUAL),
        ("something_new", Outcome.MANUAL),
        ("", Outcome.MANUAL),
        (None, Outcome.MANUAL),
        # Truv's values are lower case; the same word in another case is the same status
        ("DONE", Outcome.COMPLETED),
        (" Login_Error ", Outcome.REAUTH),
        ("Unavailable", Outcome.RETRY),
    ],
)
def test_classify(status, outcome):
    assert classify(status) is outcome


def test_every_terminal_task_status_has_a_bucket_that_is_not_pending():
    # truv-api.md 5: the task enum is `done` plus nine errors
    terminal = [
        "done",
        "login_error",
        "mfa_error",
        "config_error",
        "account_locked",
        "unable_to_reset",
        "no_data",
        "unavailable",
        "error",
        "not_supported",
    ]
    assert all(classify(s) is not Outcome.PENDING for s in terminal)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        (1, 6 * H),
        (2, 12 * H),
        (3, 24 * H),
        (4, 48 * H),
        (5, 72 * H),  # capped
        (6, 72 * H),
        (12, 72 * H),
        (32, 72 * H),
        (0, 6 * H),  # never sooner than the first step
    ],
)
def test_retry_backoff(failures, delay):
    assert retry_at(failures, NOW) == NOW + delay


@pytest.mark.parametrize("failures", [33, 40, 100, 10_000])
def test_retry_backoff_stays_capped_however_many_failures(failures):
    # A provider down for months gives a connection one failure per attempt (every 72 h): ~100 days to 33,
    # where 6 h * 2**32 no longer fits a timedelta.
    assert retry_at(failures, NOW) == NOW + 72 * H


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=31))
def test_retry_backoff_never_shrinks_and_stays_within_6_to_72_hours(failures):
    now_delay = retry_at(failures, NOW) - NOW
    next_delay = retry_at(failures + 1, NOW) - NOW
    assert 6 * H <= now_delay <= next_delay <= 72 * H


# -- products: one per request (rule 5), each with its own connections (rule 10) ------------------------


@pytest.mark.parametrize(
    ("order", "product", "allowed"),
    [
        # an income order may be refreshed as income or employment
        (["income"], "income", True),
        (["income"], "employment", True),
        (["income"], "assets", False),
        (["income"], "transactions", False),
        (["income"], "insurance", False),
        # an employment order only as employment
        (["employment"], "employment", True),
        (["employment"], "income", False),
        # any other only as itself
        (["assets"], "assets", True),
        (["assets"], "transactions", False),
        (["assets"], "income", False),
        (["transactions"], "transactions", True),
        (["transactions"], "assets", False),
        (["insurance"], "insurance", True),
        (["insurance"], "income", False),
        # an order of several products: any of them, and employment when income is one
        (["income", "assets"], "assets", True),
        (["income", "assets"], "employment", True),
        (["income", "assets"], "transactions", False),
        (["employment", "assets"], "income", False),
        ([], "income", False),
    ],
)
def test_which_product_a_refresh_may_ask_for(order, product, allowed):
    assert refresh_product_allowed(order, product) is allowed
    assert refresh_product_allowed(tuple(order), product) is allowed  # any iterable


@pytest.mark.parametrize(
    ("product", "scope", "filter_key"),
    [
        ("income", "employer", "employers"),
        ("employment", "employer", "employers"),
        ("assets", "account", "financial_accounts"),
        ("transactions", "account", "financial_accounts"),
        ("insurance", "insurance", None),  # no documented filter for insurance items
    ],
)
def test_a_products_connections_and_its_refresh_filter(product, scope, filter_key):
    assert scope_of(product) == scope
    assert FILTER_KEYS.get(scope) == filter_key


def test_every_product_a_policy_may_name_has_a_scope():
    assert set(PRODUCTS) == set(SCOPES)
    with pytest.raises(KeyError):
        scope_of("payroll")


# -- policy match --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        ("TRUE", "true"),
        (" FHA ", "fha"),
        (2, "2"),
        (0.8, "0.8"),
        ("Jumbo Loan", "jumbo loan"),
    ],
)
def test_values_compare_as_lower_case_text(value, text):
    assert normalise(value) == text


@pytest.mark.parametrize(
    ("match", "fields", "ok"),
    [
        ({}, {}, True),
        ({}, {"gse": True, "program": "fha"}, True),
        # YAML booleans and numbers agree with CSV text
        ({"gse": True}, {"gse": True}, True),
        ({"gse": True}, {"gse": "true"}, True),
        ({"gse": True}, {"gse": "TRUE"}, True),
        ({"gse": True}, {"gse": False}, False),
        ({"gse": False}, {"gse": False}, True),
        ({"tier": 2}, {"tier": "2"}, True),
        ({"tier": "2"}, {"tier": 2}, True),
        # case-insensitive
        ({"program": "FHA"}, {"program": "fha"}, True),
        ({"program": "fha"}, {"program": "Fha "}, True),
        # a list means any of its values
        ({"program": ["fha", "va"]}, {"program": "VA"}, True),
        ({"program": ["fha", "va"]}, {"program": "usda"}, False),
        # every key must match
        ({"gse": True, "program": "fha"}, {"gse": True, "program": "fha"}, True),
        ({"gse": True, "program": "fha"}, {"gse": True, "program": "va"}, False),
        ({"gse": True, "program": "fha"}, {"gse": False, "program": "fha"}, False),
        # a key the loan does not have never matches
        ({"program": "fha"}, {}, False),
        ({"program": "fha"}, {"program": None}, False),
        ({"status": "active"}, {"status": "closed"}, False),
    ],
)
def test_policy_match(match, fields, ok):
    assert matches(match, fields) is ok


@settings(deadline=None)
@given(
    st.dictionaries(st.sampled_from(["gse", "program", "status", "tier"]), st.sampled_from(["a", "B", True, 1])),
    st.dictionaries(st.sampled_from(["gse", "program", "status", "tier"]), st.sampled_from(["A", "b", "true", "1"])),
)
def test_a_match_is_the_and_of_its_keys(match, fields):
    assert matches(match, fields) is all(matches({k: v}, fields) for k, v in match.items())
