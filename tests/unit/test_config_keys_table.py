"""jobs.yaml, key by key (README "Configuration" table and "Input"): each documented default, and each bad
key or value stopping with a ConfigError that names the file, the key path and what was expected.
Policies, jobs, budgets, truv, notify, monitoring and the environment; `loans:` is left to its own tests."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import yaml

from monitor.config import (
    DEFAULT_BASE_URL,
    DEFAULT_DATABASE_URL,
    DEFAULT_PURPOSE,
    PRODUCTS,
    Settings,
    parse_config,
    parse_duration,
    parse_share,
    secret_from_env,
)
from monitor.errors import ConfigError, InputError

SOURCE = "conf/jobs.yaml"
BASE: dict[str, Any] = {
    "policies": [{"name": "p", "product": "income", "max_age": "30d"}],
    "jobs": [{"name": "j", "schedule": "0 2 * * *", "policies": ["p"]}],
}


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def with_change(section: str, change: dict[str, Any], index: int | None = None) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    if index is None:
        data.setdefault(section, {}).update(change)
    else:
        data[section][index].update(change)
    return data


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(dump(data), SOURCE)
    assert caught.value.exit_code == 2
    return str(caught.value)


# -- defaults (the README's table) ---------------------------------------------------------------------


def test_every_default_is_the_documented_one():
    cfg = parse_config(dump(BASE), SOURCE)
    assert cfg.database.url == DEFAULT_DATABASE_URL == "sqlite:///monitor.db"
    assert cfg.truv.base_url == DEFAULT_BASE_URL == "https://prod.truv.com/v1/"
    assert (cfg.truv.requests_per_minute, cfg.truv.timeout_seconds) == (300, 30.0)
    assert (cfg.truv.max_consecutive_failures, cfg.truv.concurrency) == (10, 8)
    assert (cfg.budgets.per_token_per_24h, cfg.budgets.gse_per_90d) == (3, 5)
    assert cfg.budgets.gse_overage == "block"
    assert cfg.budgets.clock_skew_margin == timedelta(minutes=5)
    assert cfg.budgets.billable_per_day is None
    assert cfg.notify is None
    policy = cfg.policies[0]
    assert (policy.match, policy.pre_closing_business_days, policy.monitoring) == ({}, None, None)
    assert policy.permissible_purpose == DEFAULT_PURPOSE
    assert policy.permissible_purpose.startswith("FCRA 604(a)(3)(A)")
    job = cfg.jobs[0]
    assert (job.timezone, job.max_refreshes, job.parallel, job.claim_ttl) == ("UTC", 1000, False, timedelta(minutes=15))


def test_an_empty_file_is_an_empty_configuration():
    cfg = parse_config("", SOURCE)
    assert (cfg.policies, cfg.jobs) == ([], [])
    with pytest.raises(ConfigError, match="no job is defined"):
        cfg.job(None)


def test_notify_defaults():
    cfg = parse_config(dump({**BASE, "notify": {"url": "https://lender.example/hooks"}}), SOURCE)
    assert cfg.notify is not None
    assert (cfg.notify.secret_env, cfg.notify.timeout_seconds) == ("MONITOR_NOTIFY_SECRET", 10.0)


def test_monitoring_defaults_are_five_and_ten_percent():
    cfg = parse_config(dump(with_change("policies", {"monitoring": {}}, 0)), SOURCE)
    monitoring = cfg.policies[0].monitoring
    assert monitoring is not None
    assert (monitoring.income_drop_review, monitoring.income_drop_material) == (0.05, 0.10)


@pytest.mark.parametrize("product", PRODUCTS)
def test_every_documented_product_is_accepted(product):
    cfg = parse_config(dump(with_change("policies", {"product": product}, 0)), SOURCE)
    assert cfg.policies[0].product == product


def test_the_products_are_the_five_of_truvs_refresh_request():
    assert set(PRODUCTS) == {"income", "employment", "assets", "insurance", "transactions"}


# -- good values that must be accepted ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "change", "index", "read", "expected"),
    [
        pytest.param(
            "budgets", {"gse_overage": "paid"}, None, lambda c: c.budgets.gse_overage, "paid", id="gse_overage-paid"
        ),
        pytest.param(
            "budgets", {"billable_per_day": 0}, None, lambda c: c.budgets.billable_per_day, 0, id="billable-zero"
        ),
        pytest.param(
            "budgets", {"billable_per_day": 50}, None, lambda c: c.budgets.billable_per_day, 50, id="billable-cap"
        ),
        pytest.param(
            "budgets",
            {"clock_skew_margin": "0"},
            None,
            lambda c: c.budgets.clock_skew_margin,
            timedelta(0),
            id="skew-zero-text",
        ),
        pytest.param(
            "budgets",
            {"clock_skew_margin": 0},
            None,
            lambda c: c.budgets.clock_skew_margin,
            timedelta(0),
            id="skew-zero-number",
        ),
        pytest.param(
            "budgets",
            {"clock_skew_margin": "90s"},
            None,
            lambda c: c.budgets.clock_skew_margin,
            timedelta(seconds=90),
            id="skew-seconds",
        ),
        pytest.param(
            "budgets", {"per_token_per_24h": 0}, None, lambda c: c.budgets.per_token_per_24h, 0, id="token-budget-0"
        ),
        pytest.param("truv", {"requests_per_minute": 1}, None, lambda c: c.truv.requests_per_minute, 1, id="rpm-one"),
        pytest.param("truv", {"concurrency": 64}, None, lambda c: c.truv.concurrency, 64, id="concurrency-max"),
        pytest.param("truv", {"timeout_seconds": 0.5}, None, lambda c: c.truv.timeout_seconds, 0.5, id="timeout"),
        pytest.param(
            "policies", {"max_age": "90m"}, 0, lambda c: c.policies[0].max_age, timedelta(minutes=90), id="age-90m"
        ),
        pytest.param(
            "policies", {"max_age": "24h"}, 0, lambda c: c.policies[0].max_age, timedelta(hours=24), id="age-24h"
        ),
        pytest.param(
            "policies", {"max_age": "2w"}, 0, lambda c: c.policies[0].max_age, timedelta(weeks=2), id="age-2w"
        ),
        pytest.param(
            "policies",
            {"pre_closing_business_days": 10},
            0,
            lambda c: c.policies[0].pre_closing_business_days,
            10,
            id="pre-closing-10",
        ),
        pytest.param(
            "policies",
            {"match": {"gse": True, "status": "active"}},
            0,
            lambda c: c.policies[0].match,
            {"gse": True, "status": "active"},
            id="match-gse-status",
        ),
        pytest.param(
            "policies",
            {"match": {"loan_id": ["L-1", "L-2"]}},
            0,
            lambda c: c.policies[0].match,
            {"loan_id": ["L-1", "L-2"]},
            id="match-list-means-any",
        ),
        pytest.param(
            "policies",
            {"match": {"status": "CLOSED"}},
            0,
            lambda c: c.policies[0].match,
            {"status": "CLOSED"},
            id="match-case-insensitive",
        ),
        pytest.param(
            "jobs", {"timezone": "America/New_York"}, 0, lambda c: c.jobs[0].timezone, "America/New_York", id="tz"
        ),
        pytest.param("jobs", {"max_refreshes": 0}, 0, lambda c: c.jobs[0].max_refreshes, 0, id="max-refreshes-0"),
        pytest.param("jobs", {"parallel": True}, 0, lambda c: c.jobs[0].parallel, True, id="parallel"),
        pytest.param("jobs", {"claim_ttl": "1h"}, 0, lambda c: c.jobs[0].claim_ttl, timedelta(hours=1), id="claim-ttl"),
        pytest.param(
            "jobs", {"schedule": "*/15 * * * 1-5"}, 0, lambda c: c.jobs[0].schedule, "*/15 * * * 1-5", id="cron"
        ),
    ],
)
def test_good_values(section, change, index, read, expected):
    assert read(parse_config(dump(with_change(section, change, index)), SOURCE)) == expected


# -- bad values: the key path and the expectation --------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "change", "index", "where", "expected"),
    [
        # truv
        pytest.param(
            "truv", {"requests_per_minute": 0}, None, "truv.requests_per_minute", "greater than 0", id="rpm-0"
        ),
        pytest.param(
            "truv",
            {"requests_per_minute": 100_001},
            None,
            "truv.requests_per_minute",
            "less than or equal to 100000",
            id="rpm-huge",
        ),
        pytest.param(
            "truv", {"requests_per_minute": "fast"}, None, "truv.requests_per_minute", "valid integer", id="rpm-text"
        ),
        pytest.param("truv", {"timeout_seconds": 0}, None, "truv.timeout_seconds", "greater than 0", id="timeout-0"),
        pytest.param("truv", {"timeout_seconds": -1}, None, "truv.timeout_seconds", "greater than 0", id="timeout-neg"),
        pytest.param("truv", {"concurrency": 0}, None, "truv.concurrency", "greater than or equal to 1", id="conc-0"),
        pytest.param("truv", {"concurrency": 65}, None, "truv.concurrency", "less than or equal to 64", id="conc-65"),
        pytest.param(
            "truv",
            {"max_consecutive_failures": 0},
            None,
            "truv.max_consecutive_failures",
            "greater than or equal to 1",
            id="failures-0",
        ),
        pytest.param("truv", {"secret": "sandbox-x"}, None, "truv.secret", "unknown key 'secret'", id="truv-secret"),
        pytest.param("truv", {"client_id": "cid"}, None, "truv.client_id", "unknown key 'client_id'", id="client-id"),
        # budgets
        pytest.param(
            "budgets",
            {"per_token_per_24h": -1},
            None,
            "budgets.per_token_per_24h",
            "greater than or equal to 0",
            id="token-neg",
        ),
        pytest.param(
            "budgets", {"gse_per_90d": -1}, None, "budgets.gse_per_90d", "greater than or equal to 0", id="gse-neg"
        ),
        pytest.param(
            "budgets", {"gse_overage": "maybe"}, None, "budgets.gse_overage", "'block' or 'paid'", id="overage"
        ),
        pytest.param(
            "budgets",
            {"billable_per_day": -5},
            None,
            "budgets.billable_per_day",
            "greater than or equal to 0",
            id="billable-neg",
        ),
        pytest.param(
            "budgets",
            {"clock_skew_margin": "5 minutes"},
            None,
            "budgets.clock_skew_margin",
            'expected a positive duration like "90m"',
            id="skew-words",
        ),
        pytest.param(
            "budgets",
            {"clock_skew_margin": "-5m"},
            None,
            "budgets.clock_skew_margin",
            "expected a positive duration",
            id="skew-negative",
        ),
        pytest.param(
            "budgets", {"per_token": 3}, None, "budgets.per_token", "unknown key 'per_token'", id="budgets-typo"
        ),
        # policies
        pytest.param(
            "policies", {"max_age": "1 day"}, 0, "policies[0].max_age", 'like "90m", "24h" or "30d"', id="age-words"
        ),
        pytest.param("policies", {"max_age": 30}, 0, "policies[0].max_age", "positive duration", id="age-bare-number"),
        pytest.param("policies", {"max_age": "0d"}, 0, "policies[0].max_age", "positive duration", id="age-zero"),
        pytest.param("policies", {"max_age": "3y"}, 0, "policies[0].max_age", "positive duration", id="age-years"),
        pytest.param("policies", {"max_age": "24H"}, 0, "policies[0].max_age", "positive duration", id="age-upper"),
        pytest.param("policies", {"product": "wages"}, 0, "policies[0].product", "'income'", id="product-unknown"),
        pytest.param(
            "policies", {"product": ["income"]}, 0, "policies[0].product", "'employment'", id="product-as-list"
        ),
        pytest.param("policies", {"name": ""}, 0, "policies[0].name", "at least 1 character", id="name-empty"),
        pytest.param(
            "policies",
            {"pre_closing_business_days": 0},
            0,
            "policies[0].pre_closing_business_days",
            "greater than or equal to 1",
            id="pre-closing-0",
        ),
        pytest.param(
            "policies",
            {"pre_closing_business_days": 61},
            0,
            "policies[0].pre_closing_business_days",
            "less than or equal to 60",
            id="pre-closing-61",
        ),
        pytest.param(
            "policies",
            {"permissible_purpose": "x"},
            0,
            "policies[0].permissible_purpose",
            "at least 3 characters",
            id="purpose-short",
        ),
        pytest.param(
            "policies",
            {"permissible_purpose": "x" * 161},
            0,
            "policies[0].permissible_purpose",
            "at most 160 characters",
            id="purpose-long",
        ),
        pytest.param(
            "policies", {"match": {"gse": "yes"}}, 0, "policies[0].match.gse", "expected true or false", id="gse-text"
        ),
        pytest.param(
            "policies",
            {"match": {"status": "open"}},
            0,
            "policies[0].match.status",
            "expected active or closed",
            id="status-unknown",
        ),
        pytest.param(
            "policies", {"match": {"gse": []}}, 0, "policies[0].match", "an empty list matches nothing", id="empty-list"
        ),
        pytest.param(
            "policies",
            {"match": {"loan_id": {"a": 1}}},
            0,
            "policies[0].match",
            "expected a value or a list of values",
            id="match-object",
        ),
        pytest.param(
            "policies",
            {"match": {"closing_date": "2026-01-01"}},
            0,
            "policies[0].match.closing_date",
            "cannot be matched on",
            id="match-on-a-date",
        ),
        pytest.param(
            "policies",
            {"match": {"loan_id": True}},
            0,
            "policies[0].match.loan_id",
            "expected text, got the boolean",
            id="match-yaml-boolean",
        ),
        pytest.param(
            "policies",
            {"match": {"order_id": 1.5}},
            0,
            "policies[0].match.order_id",
            "expected text or a whole number",
            id="match-float",
        ),
        pytest.param(
            "policies",
            {"maxage": "30d"},
            0,
            "policies[0].maxage",
            "unknown key 'maxage'",
            id="policy-typo",
        ),
        pytest.param(
            "policies",
            {"monitoring": {"income_drop_review": "150%"}},
            0,
            "policies[0].monitoring.income_drop_review",
            "less than 100%",
            id="review-over-100",
        ),
        pytest.param(
            "policies",
            {"monitoring": {"income_drop_review": "0%"}},
            0,
            "policies[0].monitoring.income_drop_review",
            "more than 0%",
            id="review-zero",
        ),
        pytest.param(
            "policies",
            {"monitoring": {"income_drop_material": "ten%"}},
            0,
            "policies[0].monitoring.income_drop_material",
            'expected a percentage like "5%"',
            id="material-words",
        ),
        pytest.param(
            "policies",
            {"monitoring": {"income_drop_review": "10%", "income_drop_material": "5%"}},
            0,
            "policies[0].monitoring",
            "income_drop_material must be at least income_drop_review",
            id="material-below-review",
        ),
        pytest.param(
            "policies",
            {"monitoring": {"income_drop": "5%"}},
            0,
            "policies[0].monitoring.income_drop",
            "unknown key 'income_drop'",
            id="monitoring-typo",
        ),
        # jobs
        pytest.param("jobs", {"schedule": "0 25 * * *"}, 0, "jobs[0].schedule", "5-field cron", id="cron-hour-25"),
        pytest.param("jobs", {"schedule": "* * *"}, 0, "jobs[0].schedule", "5-field cron", id="cron-3-fields"),
        pytest.param("jobs", {"schedule": "@daily"}, 0, "jobs[0].schedule", "5-field cron", id="cron-macro"),
        pytest.param("jobs", {"schedule": "0 2 * * * *"}, 0, "jobs[0].schedule", "5-field cron", id="cron-6-fields"),
        pytest.param("jobs", {"timezone": "EST5EDTX"}, 0, "jobs[0].timezone", "IANA timezone", id="tz-unknown"),
        pytest.param("jobs", {"timezone": "America/Nowhere"}, 0, "jobs[0].timezone", "IANA timezone", id="tz-nowhere"),
        pytest.param("jobs", {"timezone": "../etc/passwd"}, 0, "jobs[0].timezone", "IANA timezone", id="tz-path"),
        pytest.param("jobs", {"policies": []}, 0, "jobs[0].policies", "at least 1 item", id="no-policies"),
        pytest.param(
            "jobs", {"policies": ["missing"]}, 0, "jobs[0].policies[0]", "names policy 'missing'", id="policy-missing"
        ),
        pytest.param(
            "jobs",
            {"max_refreshes": -1},
            0,
            "jobs[0].max_refreshes",
            "greater than or equal to 0",
            id="max-refreshes-neg",
        ),
        pytest.param("jobs", {"parallel": "sometimes"}, 0, "jobs[0].parallel", "valid boolean", id="parallel-text"),
        pytest.param("jobs", {"claim_ttl": "0m"}, 0, "jobs[0].claim_ttl", "positive duration", id="claim-ttl-zero"),
        pytest.param("jobs", {"claim_ttl": "15"}, 0, "jobs[0].claim_ttl", "positive duration", id="claim-ttl-bare"),
        pytest.param("jobs", {"cron": "0 2 * * *"}, 0, "jobs[0].cron", "unknown key 'cron'", id="job-typo"),
        # notify
        pytest.param("notify", {"url": "ftp://lender"}, None, "notify.url", "^https?://", id="notify-scheme"),
        pytest.param(
            "notify", {"url": "https://l", "secret_env": "lower_case"}, None, "notify.secret_env", "pattern", id="env"
        ),
        pytest.param(
            "notify",
            {"url": "https://l", "timeout_seconds": 0},
            None,
            "notify.timeout_seconds",
            "greater than 0",
            id="t",
        ),
        pytest.param("notify", {"secret_env": "X"}, None, "notify.url", "required key is missing", id="notify-no-url"),
        pytest.param(
            "notify", {"url": "https://l", "secret": "s3cr3t"}, None, "notify.secret", "unknown key 'secret'", id="sec"
        ),
        # database
        pytest.param("database", {"url": 5}, None, "database.url", "valid string", id="db-url-number"),
        pytest.param(
            "database", {"password": "pw"}, None, "database.password", "unknown key 'password'", id="db-password"
        ),
    ],
)
def test_bad_values_name_the_key_and_the_expectation(section, change, index, where, expected):
    message = refused(with_change(section, change, index))
    assert message.startswith(f"{SOURCE}: {where} (line ")
    assert expected in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("secret", "sandbox-abcdef123456", id="truv-secret"),
        pytest.param("access_secret", "prod-abcdef123456", id="access-secret"),
    ],
)
def test_a_secret_put_in_jobs_yaml_is_refused_without_echoing_it(key, value):
    message = refused(with_change("truv", {key: value}))
    assert f"unknown key {key!r}" in message
    assert value not in message


@pytest.mark.parametrize(
    ("data", "where", "expected"),
    [
        pytest.param({"policies": [1], "jobs": []}, "policies[0]", "valid dictionary", id="policy-not-a-mapping"),
        pytest.param({"truv": [1]}, "truv", "valid dictionary", id="section-not-a-mapping"),
        pytest.param({"policies": {"name": "p"}}, "policies", "valid list", id="policies-not-a-list"),
        pytest.param({"budget": {}}, "budget", "unknown key 'budget'", id="section-typo"),
        pytest.param({"jobs": [{"name": "j", "policies": ["p"]}]}, "jobs[0].schedule", "required key", id="no-cron"),
        pytest.param(
            {"policies": [{"name": "p", "product": "income"}]}, "policies[0].max_age", "required key", id="no-max-age"
        ),
        pytest.param(
            {"policies": [{"name": "p", "max_age": "1d"}]}, "policies[0].product", "required key", id="no-product"
        ),
        pytest.param(
            {"policies": [{"product": "income", "max_age": "1d"}]}, "policies[0].name", "required", id="no-name"
        ),
        pytest.param({"jobs": [{"name": "j", "schedule": "0 2 * * *"}]}, "jobs[0].policies", "required", id="no-list"),
    ],
)
def test_structural_errors(data, where, expected):
    message = refused(data)
    assert message.startswith(f"{SOURCE}: {where}")
    assert expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("- a\n- b\n", "expected a mapping of sections", id="top-level-list"),
        pytest.param("just text\n", "expected a mapping of sections", id="top-level-scalar"),
        pytest.param("policies: [\n", "not valid YAML", id="unclosed-bracket"),
        pytest.param("a: b: c\n", "not valid YAML", id="mapping-in-scalar"),
    ],
)
def test_not_a_jobs_file(text, expected):
    with pytest.raises(ConfigError, match=expected) as caught:
        parse_config(text, SOURCE)
    assert str(caught.value).startswith(SOURCE)


def test_duplicate_job_names_are_listed():
    data = copy.deepcopy(BASE)
    data["jobs"].append(copy.deepcopy(data["jobs"][0]))
    assert "jobs: names must be unique, repeated: j" in refused(data)


def test_the_line_of_the_bad_key_is_given():
    text = dump(with_change("policies", {"max_age": "1 day"}, 0))
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if "max_age" in row)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, SOURCE)
    assert f"policies[0].max_age (line {line})" in str(caught.value)


def test_a_config_error_is_an_input_error_with_exit_code_2():
    with pytest.raises(InputError) as caught:
        parse_config("truv: {requests_per_minute: 0}\n", SOURCE)
    assert caught.value.exit_code == 2
    assert caught.value.source == SOURCE
    assert caught.value.location.startswith("truv.requests_per_minute")


@pytest.mark.parametrize(
    ("name", "found"),
    [("j", "j"), (None, "j")],
)
def test_choosing_a_job(name, found):
    assert parse_config(dump(BASE), SOURCE).job(name).name == found


def test_an_unknown_job_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"no job named 'nightly' \(jobs: j\)"):
        parse_config(dump(BASE), SOURCE).job("nightly")


# -- durations and shares --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1s", timedelta(seconds=1), id="seconds"),
        pytest.param("90m", timedelta(minutes=90), id="90m"),
        pytest.param("24h", timedelta(hours=24), id="24h"),
        pytest.param("30d", timedelta(days=30), id="30d"),
        pytest.param("2w", timedelta(weeks=2), id="2w"),
        pytest.param("90d", timedelta(days=90), id="90d"),
        pytest.param(" 5 m ", timedelta(minutes=5), id="spaces"),
        pytest.param(timedelta(hours=3), timedelta(hours=3), id="already-a-timedelta"),
    ],
)
def test_parse_duration(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(30, id="number"),
        pytest.param(None, id="null"),
        pytest.param("1.5h", id="fraction"),
        pytest.param("1h30m", id="compound"),
        pytest.param("P1D", id="iso-8601"),
        pytest.param("24H", id="upper-unit"),
        pytest.param("0s", id="zero"),
        pytest.param("-1d", id="negative"),
        pytest.param("d", id="unit-only"),
        pytest.param("1 day", id="words"),
    ],
)
def test_parse_duration_refuses(value):
    with pytest.raises(ValueError, match=r'expected a positive duration like "90m", "24h" or "30d", got'):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("5%", 0.05, id="five-percent"),
        pytest.param(" 10 % ", 0.10, id="spaces"),
        pytest.param("12.5%", 0.125, id="fraction-percent"),
        pytest.param(0.05, 0.05, id="share"),
        pytest.param("99.9%", 0.999, id="just-under-100"),
    ],
)
def test_parse_share(value, expected):
    assert parse_share(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("0%", "more than 0% and less than 100%", id="zero"),
        pytest.param("100%", "more than 0% and less than 100%", id="hundred"),
        pytest.param(1, "more than 0% and less than 100%", id="one-as-share"),
        pytest.param(5, "more than 0% and less than 100%", id="five-not-percent"),
        pytest.param(-0.1, "more than 0% and less than 100%", id="negative"),
        pytest.param("five%", 'expected a percentage like "5%"', id="words"),
        pytest.param("5", 'expected a percentage like "5%" or a share', id="text-without-percent"),
        pytest.param(True, 'expected a percentage like "5%" or a share', id="boolean"),
        pytest.param(None, 'expected a percentage like "5%" or a share', id="null"),
    ],
)
def test_parse_share_refuses(value, message):
    with pytest.raises(ValueError, match=message):
        parse_share(value)


# -- the environment (README "Using it for real": secrets never in jobs.yaml, *_FILE variants) ----------


@pytest.mark.parametrize(
    ("env", "files", "expected"),
    [
        pytest.param({"TRUV_SECRET": "plain"}, {}, "plain", id="plain"),
        pytest.param({}, {"TRUV_SECRET_FILE": "  from-file\n"}, "from-file", id="file-trimmed"),
        pytest.param({"TRUV_SECRET": "plain"}, {"TRUV_SECRET_FILE": "from-file"}, "plain", id="plain-wins"),
        pytest.param({"TRUV_SECRET": ""}, {"TRUV_SECRET_FILE": "from-file"}, "from-file", id="empty-plain-falls-back"),
        pytest.param({}, {"TRUV_SECRET_FILE": "   \n"}, None, id="blank-file-is-unset"),
        pytest.param({}, {}, None, id="unset"),
    ],
)
def test_secret_from_env(tmp_path, env, files, expected):
    environ = dict(env)
    for name, content in files.items():
        path = tmp_path / name.lower()
        path.write_text(content, encoding="utf-8")
        environ[name] = str(path)
    assert secret_from_env("TRUV_SECRET", environ) == expected


def test_an_unreadable_secret_file_names_the_variable_not_the_secret(tmp_path):
    with pytest.raises(ConfigError) as caught:
        secret_from_env("TRUV_SECRET", {"TRUV_SECRET_FILE": str(tmp_path / "missing")})
    assert caught.value.location == "TRUV_SECRET_FILE"
    assert "cannot read" in str(caught.value)


def test_a_secret_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(b"\xff\xfe\x00s")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        secret_from_env("TRUV_SECRET", {"TRUV_SECRET_FILE": str(path)})


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        pytest.param({}, "TRUV_CLIENT_ID and TRUV_SECRET", id="both"),
        pytest.param({"TRUV_SECRET": "s"}, "TRUV_CLIENT_ID", id="client-id"),
        pytest.param({"TRUV_CLIENT_ID": "c"}, "TRUV_SECRET", id="secret"),
        pytest.param({"TRUV_CLIENT_ID": "", "TRUV_SECRET": "s"}, "TRUV_CLIENT_ID", id="empty-client-id"),
    ],
)
def test_missing_credentials_are_named(environ, missing):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(environ).require_credentials()
    assert caught.value.location == missing
    assert "come only from the environment" in str(caught.value)


def test_settings_defaults_and_overrides():
    bare = Settings.from_env({})
    assert (str(bare.config_path), bare.database_url, bare.base_url) == ("jobs.yaml", None, None)
    set_ = Settings.from_env({"TRUV_BASE_URL": "http://127.0.0.1:9/v1/", "MONITOR_DATABASE_URL": "sqlite:///x.db"})
    assert (set_.base_url, set_.database_url) == ("http://127.0.0.1:9/v1/", "sqlite:///x.db")
    assert Settings.from_env({"TRUV_BASE_URL": ""}).base_url is None
