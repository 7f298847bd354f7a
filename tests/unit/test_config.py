from datetime import timedelta
from pathlib import Path

import pytest
import yaml

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


# -- hostile jobs.yaml (issue 11, point 13) -------------------------------------------------------

ALIAS_BOMB = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
)


@pytest.fixture(params=["libyaml", "pure-python"])
def yaml_parser(request, monkeypatch):
    """The same checks whichever parser PyYAML has: libyaml's C one, or its pure-Python fallback."""
    import monitor.config

    if request.param == "pure-python":
        monkeypatch.setattr(monitor.config, "_LOADER", yaml.SafeLoader)


def test_an_alias_bomb_is_refused_fast_and_small(yaml_parser):
    import time
    import tracemalloc

    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        parse_config(ALIAS_BOMB, "jobs.yaml")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert str(info.value) == (
        "jobs.yaml: b[0] (line 2): a YAML alias (*name) is not allowed here: write the value out"
    )
    # The behaviour, not the machine's speed: 9**9 lols built would take gigabytes, refused takes kilobytes.
    assert peak < 5_000_000, (elapsed, peak)


def test_any_alias_is_refused_even_a_harmless_one(yaml_parser):
    text = GOOD.replace("match: {gse: true}", "match: &m {gse: true}") + "  - {name: other, match: *m}\n"
    with pytest.raises(ConfigError, match=r"a YAML alias \(\*name\) is not allowed"):
        parse_config(text)
    with pytest.raises(ConfigError, match=r"x\[0\] \(line 1\): a YAML alias"):
        parse_config("x: &a [*a]\n")  # recursive: no infinite walk either


@pytest.mark.parametrize(
    ("text", "where", "first"),
    [
        (
            GOOD.replace("    product: income\n", "    product: income\n    product: assets\n"),
            "policies[0].product (line 8)",
            7,
        ),
        ("budgets: {gse_per_90d: 5, gse_per_90d: 50}\n", "budgets.gse_per_90d (line 1)", 1),
        (GOOD + "jobs: []\n", "jobs (line 12)", 10),
    ],
)
def test_a_repeated_key_is_an_error_naming_key_and_lines(yaml_parser, text, where, first):
    with pytest.raises(ConfigError) as info:
        parse_config(text, "jobs.yaml")
    assert str(info.value) == f"jobs.yaml: {where}: repeated key (first on line {first}): say it once"


@pytest.mark.parametrize("depth", [100, 100_000])
def test_nesting_is_bounded(yaml_parser, depth):
    # ours past 32 levels; libyaml's own limit (1,000) may speak first: either way one line, no RecursionError
    with pytest.raises(ConfigError, match=r"(nested more than 32 levels deep|exceeded maximum nesting depth)$"):
        parse_config("policies:\n  - match: {x: " + "[" * depth + "]" * depth + "}\n")


def test_fifty_thousand_policies_validate_in_seconds():
    import time

    policies = "".join(
        f"  - {{name: p{i}, product: income, max_age: 30d, match: {{gse: true}}}}\n" for i in range(50_000)
    )
    names = ", ".join(f"p{i}" for i in range(50_000))
    text = f"policies:\n{policies}jobs:\n  - {{name: nightly, schedule: '0 2 * * *', policies: [{names}]}}\n"
    started = time.perf_counter()
    cfg = parse_config(text)
    assert len(cfg.policies) == 50_000
    # A guard against quadratic checks (they took minutes), not a speed target: about 3 s on a quiet machine,
    # so the bound is generous enough for a loaded CI host.
    assert time.perf_counter() - started < 90


def test_repeated_names_among_many_are_listed_briefly():
    policies = "".join(f"  - {{name: p{i % 20}, product: income, max_age: 30d}}\n" for i in range(40))
    with pytest.raises(ConfigError, match=r"repeated: p0, p1, p10, .* and 10 more$"):
        parse_config("policies:\n" + policies)


@pytest.mark.parametrize(
    ("data", "where", "what"),
    [
        (GOOD.replace("gse-income", "gse-revenu\u00e9").encode("latin-1"), "line 5", "not UTF-8 text (byte 0xe9)"),
        (GOOD.encode("utf-16"), "line 1", "(byte 0xff) (it looks like UTF-16); save it as UTF-8"),
    ],
)
def test_a_file_that_is_not_utf8_is_refused(tmp_path, data, where, what):
    path = tmp_path / "jobs.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {where}: ") and what in str(info.value)


def test_a_utf8_bom_is_fine(tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_bytes(GOOD.encode("utf-8-sig"))
    assert load_config(path).policies[0].name == "gse-income"


def test_control_characters_are_one_line():
    with pytest.raises(ConfigError) as info:
        parse_config("policies: [\x00]\n", "jobs.yaml")
    assert str(info.value) == "jobs.yaml: line 1: not valid YAML: control characters are not allowed"


def test_secrets_can_come_from_files(tmp_path):
    (tmp_path / "secret").write_text("sandbox-from-file\n")
    (tmp_path / "url").write_text("postgresql://monitor:pw@db/monitor\n")
    s = Settings.from_env(
        {
            "TRUV_CLIENT_ID": "id",
            "TRUV_SECRET_FILE": str(tmp_path / "secret"),
            "MONITOR_DATABASE_URL_FILE": str(tmp_path / "url"),
        }
    )
    assert s.require_credentials() == ("id", "sandbox-from-file")
    assert s.database_url == "postgresql://monitor:pw@db/monitor"
    both = Settings.from_env({"TRUV_SECRET": "env-wins", "TRUV_SECRET_FILE": str(tmp_path / "secret")})
    assert both.secret == "env-wins"
    with pytest.raises(ConfigError, match=r"environment: TRUV_SECRET_FILE: cannot read .*/nope: No such file"):
        Settings.from_env({"TRUV_SECRET_FILE": str(tmp_path / "nope")})
