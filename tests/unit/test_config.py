from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import Settings, load_config, parse_config, parse_duration
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
database: {url: "sqlite:///monitor.db"}
truv: {base_url: "https://prod.truv.com/v1/", requests_per_minute: 300}
budgets: {per_token_per_24h: 3, gse_per_90d: 5, gse_overage: block}
policies:
  - name: gse-income
    match: {gse: true}
    product: income
    max_age: 30d
    pre_closing_business_days: 10
jobs:
  - {name: nightly, schedule: "0 2 * * *", timezone: America/New_York, policies: [gse-income], max_refreshes: 1000}
"""


def test_the_documented_shape_parses():
    cfg = parse_config(GOOD)
    assert cfg.policies[0].max_age == timedelta(days=30)
    assert cfg.jobs[0].timezone == "America/New_York"
    assert cfg.budgets.gse_overage == "block"


def test_shipped_jobs_yaml_is_valid():
    cfg = load_config(ROOT / "jobs.yaml")
    assert {p.name for p in cfg.policies} >= set(cfg.jobs[0].policies)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("90m", timedelta(minutes=90)),
        ("24h", timedelta(hours=24)),
        ("30d", timedelta(days=30)),
        (" 2w ", timedelta(weeks=2)),
    ],
)
def test_durations(text, value):
    assert parse_duration(text) == value


@pytest.mark.parametrize("bad", ["30", "1 day", "0d", "-3d", "3y", ""])
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="expected a positive duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("old", "new", "where", "what"),
    [
        ("max_age: 30d", "max_age: 1 day", "policies[0].max_age (line 8)", 'duration like "90m"'),
        ("    max_age: 30d", "    maxage: 30d", "policies[0].maxage (line 8)", "unknown key 'maxage'"),
        (
            "[gse-income]",
            "[gse-incme]",
            "jobs[0].policies[0] (line 11)",
            "names policy 'gse-incme', which is not defined",
        ),
        ("0 2 * * *", "0 25 * * *", "jobs[0].schedule (line 11)", "5-field cron"),
        ("America/New_York", "America/Nowhere", "jobs[0].timezone (line 11)", "IANA timezone"),
        ("gse_overage: block", "gse_overage: maybe", "budgets.gse_overage (line 3)", "'block' or 'paid'"),
        ("product: income", "product: wages", "policies[0].product (line 7)", "'income'"),
        ("requests_per_minute: 300", "requests_per_minute: -1", "truv.requests_per_minute (line 2)", "greater than 0"),
        ("budgets:", "budget:", "budget (line 3)", "unknown key 'budget'"),
    ],
)
def test_errors_name_key_line_and_expectation(old, new, where, what):
    assert old in GOOD
    with pytest.raises(ConfigError) as info:
        parse_config(GOOD.replace(old, new), "conf/jobs.yaml")
    message = str(info.value)
    assert message.startswith("conf/jobs.yaml: ")
    assert where in message
    assert what in message


def test_duplicate_policy_names():
    text = GOOD.replace("jobs:", "  - {name: gse-income, product: income, max_age: 1d}\njobs:")
    with pytest.raises(ConfigError, match="names must be unique, repeated: gse-income"):
        parse_config(text)


def test_invalid_yaml_names_the_line():
    with pytest.raises(ConfigError, match=r"line \d+: not valid YAML"):
        parse_config("policies:\n  - name: [unclosed\n")


def test_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ConfigError, match="file not found; pass --config PATH or set MONITOR_CONFIG"):
        load_config(tmp_path / "nope.yaml")


def test_settings_come_from_the_environment_only():
    s = Settings.from_env(
        {
            "MONITOR_CONFIG": "/etc/monitor/jobs.yaml",
            "TRUV_CLIENT_ID": "id",
            "TRUV_SECRET": "sandbox-x",
            "TRUV_BASE_URL": "http://127.0.0.1:9/v1/",
            "MONITOR_DATABASE_URL": "sqlite:///x.db",
        }
    )
    assert str(s.config_path) == "/etc/monitor/jobs.yaml"
    assert s.require_credentials() == ("id", "sandbox-x")
    with pytest.raises(ConfigError, match="TRUV_CLIENT_ID and TRUV_SECRET"):
        Settings.from_env({}).require_credentials()


def test_secret_shaped_keys_are_rejected_in_jobs_yaml():
    with pytest.raises(ConfigError, match="unknown key 'secret'"):
        parse_config(GOOD.replace("requests_per_minute: 300", "requests_per_minute: 300, secret: sandbox-abc"))
