"""jobs.yaml models (strict: an unknown key is an error) and settings from the environment."""

from __future__ import annotations

import difflib
import gc
import os
import re
import typing
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.core.agency_rules import PRESETS as AGENCY_PRESETS
from monitor.core.agency_rules import AgencyRule
from monitor.core.agency_rules import custom as custom_rule
from monitor.errors import ConfigError
from monitor.loans_file import COLUMNS as KNOWN

DEFAULT_DATABASE_URL = "sqlite:///monitor.db"
DEFAULT_BASE_URL = "https://prod.truv.com/v1/"
PRODUCTS = ("income", "employment", "assets", "insurance", "transactions")
# What a policy's `match` may name besides the attributes jobs.yaml declares (`loans: {attributes: [...]}`).
LOAN_FIELDS = ("gse", "status", "loan_id", "order_id")
# As wide as the store's attribute key column.
MAX_ATTRIBUTE_NAME = 128
DEFAULT_PURPOSE = "FCRA 604(a)(3)(A): credit transaction with the consumer (review of an active loan)"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: object) -> timedelta:
    """'90m', '24h', '30d', '2w' -> timedelta; anything else is refused."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f'expected a positive duration like "90m", "24h" or "30d", got {value!r}')
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Strict):
    url: str = DEFAULT_DATABASE_URL


class TruvConfig(_Strict):
    base_url: str = DEFAULT_BASE_URL
    requests_per_minute: int = Field(300, gt=0, le=100_000)
    timeout_seconds: float = Field(30.0, gt=0)
    concurrency: int = Field(8, ge=1, le=64)
    # Connection failures or timeouts in a row after which a pass stops as `truv_unreachable`.
    max_consecutive_failures: int = Field(10, ge=1, le=10_000)


class BudgetConfig(_Strict):
    per_token_per_24h: int = Field(3, ge=0)
    gse_per_90d: int = Field(5, ge=0)
    gse_overage: Literal["block", "paid"] = "block"
    billable_per_day: int | None = Field(None, ge=0)
    # How far our clock and Truv's may disagree: a refresh counts in its token's 24 h window from the
    # latest moment it may have reached Truv plus this (DESIGN.md rule 12).
    clock_skew_margin: timedelta = timedelta(minutes=5)

    @field_validator("clock_skew_margin", mode="before")
    @classmethod
    def _margin(cls, value: object) -> timedelta:
        if isinstance(value, timedelta):
            return value
        if value in (0, "0"):
            return timedelta(0)
        return parse_duration(value)


class NotifyConfig(_Strict):
    """Where hand-offs (a borrower must reconnect) are posted: the lender's own system."""

    url: str = Field(pattern=r"^https?://")
    secret_env: str = Field("MONITOR_NOTIFY_SECRET", pattern=r"^[A-Z_][A-Z0-9_]*$")
    timeout_seconds: float = Field(10.0, gt=0)


def parse_share(value: object) -> float:
    """'5%' or 0.05 -> 0.05: a share between 0 and 1 (exclusive of 0)."""
    if isinstance(value, bool):
        raise ValueError(f'expected a percentage like "5%" or a share like 0.05, got {value!r}')
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            share = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f'expected a percentage like "5%", got {value!r}') from None
    elif isinstance(value, int | float):
        share = float(value)
    else:
        raise ValueError(f'expected a percentage like "5%" or a share like 0.05, got {value!r}')
    if not 0 < share < 1:
        raise ValueError(f"expected more than 0% and less than 100%, got {value!r}")
    return share


class MonitoringConfig(_Strict):
    """When a fall in income or pay rate is a finding (DESIGN.md rule 14)."""

    income_drop_review: float = 0.05  # medium: worth a look (FHA asks for a rescore past 5%)
    income_drop_material: float = 0.10  # high: material (The Work Number flags pay changes past 10%)

    @field_validator("income_drop_review", "income_drop_material", mode="before")
    @classmethod
    def _share(cls, value: object) -> float:
        return parse_share(value)

    @model_validator(mode="after")
    def _ordered(self) -> MonitoringConfig:
        if self.income_drop_material < self.income_drop_review:
            raise ValueError("income_drop_material must be at least income_drop_review")
        return self


class LoansConfig(_Strict):
    """The loans file's columns beyond the known ones: each must be declared to be imported or matched on."""

    attributes: list[str] = Field(default_factory=list)

    @field_validator("attributes")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name or name != name.strip() or any(c in name for c in "\r\n\x00"):
                raise ValueError(f"expected column names as in the file's header (no surrounding spaces), got {name!r}")
            if len(name) > MAX_ATTRIBUTE_NAME:
                raise ValueError(f"expected names of at most {MAX_ATTRIBUTE_NAME} characters, got {len(name)}")
            if name in KNOWN:
                raise ValueError(f"{name!r} is a loan field ({', '.join(KNOWN)}), not an attribute: leave it out")
        dupes = sorted(n for n, count in Counter(value).items() if count > 1)
        if dupes:
            raise ValueError(f"names must be unique, repeated: {_some(dupes)}")
        return value


PresetName = Literal["fannie-preclose", "freddie-preclose", "fha-preclose", "va-preclose", "usda-preclose"]
# What a preset's policy is when jobs.yaml leaves it out: a VOE policy refreshing data older than the
# agencies' 120-day document age.
_PRESET_DEFAULTS = {"product": "employment", "max_age": "120d"}


class PolicyConfig(_Strict):
    name: str = Field(min_length=1)
    match: dict[str, Any] = Field(default_factory=dict)
    product: Literal["income", "employment", "assets", "insurance", "transactions"]
    max_age: timedelta
    # With `use`: what the pass refreshes ahead of closing (the rule's window in business days that
    # always lies inside it); the rule itself is `rule()`.
    pre_closing_business_days: int | None = Field(None, ge=1, le=60)
    # Recorded on every audit entry of this policy: why the borrower's data may be pulled.
    permissible_purpose: str = Field(DEFAULT_PURPOSE, min_length=3, max_length=160)
    # Income and employment policies: how a report's changes are judged after each refresh.
    monitoring: MonitoringConfig | None = None
    # An agency pre-closing preset (monitor/core/agency_rules.py) and the fields that override it.
    use: PresetName | None = None
    window: int | None = Field(None, ge=1, le=366)
    window_unit: Literal["business", "calendar"] | None = None
    holidays: Literal["us-federal", "none"] | None = None
    document_age: int | None = Field(None, ge=1, le=366)
    document_age_unit: Literal["days", "months"] | None = None
    self_employed_window: int | None = Field(None, ge=1, le=366)
    aim_days: int | None = Field(None, ge=1, le=60)
    after_closing_until_delivery: bool | None = None
    guide: str | None = Field(None, min_length=2, max_length=120)

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        """`use: fannie-preclose` fills name, product, max_age and the pass's pre-closing trigger."""
        if not isinstance(data, dict) or data.get("use") is None:
            return data
        use = data["use"]
        if use not in AGENCY_PRESETS:  # the Literal names the presets; nothing else is asked for
            return {"name": str(use), **_PRESET_DEFAULTS, **data}
        if data.get("pre_closing_business_days") is not None:
            raise _RefError(
                ("pre_closing_business_days",),
                f"not with `use: {use}`: the preset's window applies; override it with `window` and `window_unit`",
            )
        merged = {"name": use, **_PRESET_DEFAULTS, **data}
        rule = _rule_of(merged)
        if rule is not None:
            merged["pre_closing_business_days"] = _trigger_days(rule)
        return merged

    @model_validator(mode="after")
    def _rule_fields(self) -> PolicyConfig:
        given = [f for f in _RULE_FIELDS if getattr(self, f) is not None]
        if given and self.use is None:
            raise _RefError(
                (given[0],),
                f"a rule field needs a preset: add `use:` ({', '.join(AGENCY_PRESETS)}) to override its {given[0]}",
            )
        return self

    def rule(self) -> AgencyRule | None:
        """The pre-closing rule that judges this policy's loans: its preset with overrides, its own
        `pre_closing_business_days`, or None (no pre-closing window)."""
        if self.use is not None:
            return _rule_of(self.model_dump())
        if self.pre_closing_business_days:
            return custom_rule(self.pre_closing_business_days)
        return None

    @field_validator("max_age", mode="before")
    @classmethod
    def _duration(cls, value: object) -> timedelta:
        return parse_duration(value)

    @field_validator("match")
    @classmethod
    def _match_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, wanted in value.items():
            options = wanted if isinstance(wanted, list) else [wanted]
            if not options:
                raise ValueError(f"match.{key}: an empty list matches nothing")
            for option in options:
                if not isinstance(option, str | int | float | bool):
                    raise ValueError(f"match.{key}: expected a value or a list of values, got {option!r}")
        return value


_RULE_FIELDS = (
    "window",
    "window_unit",
    "holidays",
    "document_age",
    "document_age_unit",
    "self_employed_window",
    "aim_days",
    "after_closing_until_delivery",
    "guide",
)


def _rule_of(fields: Mapping[str, Any]) -> AgencyRule | None:
    preset = AGENCY_PRESETS.get(str(fields.get("use")))
    if preset is None:
        return None
    return preset.with_overrides(
        window=fields.get("window"),
        unit=fields.get("window_unit"),
        holidays=fields.get("holidays"),
        document_age=fields.get("document_age"),
        document_age_unit=fields.get("document_age_unit"),
        self_employed_window=fields.get("self_employed_window"),
        aim_days=fields.get("aim_days"),
        after_closing_until_delivery=fields.get("after_closing_until_delivery"),
        guide=fields.get("guide"),
    )


def _trigger_days(rule: AgencyRule) -> int:
    """Business days before closing that always fall inside the rule's window, for the pass to refresh in:
    the window itself, or for calendar days the business days of the shortest such span (weekends and a
    holiday or two taken out), at most the 60 the field allows (a 120-day window is refreshed in its last 60)."""
    if not isinstance(rule.window, int) or rule.window < 1:
        return 1  # the field's own check names the bad value
    if rule.unit == "business":
        return min(rule.window, 60)
    return max(1, min(rule.window * 5 // 7 - 2, 60))


class JobConfig(_Strict):
    name: str = Field(min_length=1)
    schedule: str
    timezone: str = "UTC"
    policies: list[str] = Field(min_length=1)
    max_refreshes: int = Field(1000, ge=0)
    # Several instances may run this job at once and split it (claims), instead of the second
    # one stepping aside (the lease). Each instance applies max_refreshes to its own share.
    parallel: bool = False
    claim_ttl: timedelta = Field(default=timedelta(minutes=15))

    @field_validator("claim_ttl", mode="before")
    @classmethod
    def _claim_ttl(cls, value: object) -> timedelta:
        return parse_duration(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA timezone like America/New_York, got {value!r}") from None
        return value

    @model_validator(mode="after")
    def _cron(self) -> JobConfig:
        from monitor.core.schedule import trigger  # the one place a cron string becomes a trigger

        try:
            trigger(self.schedule, self.timezone)
        except ValueError as exc:
            raise _RefError(
                ("schedule",),
                f'expected a 5-field cron like "0 2 * * *", got {self.schedule!r} ({exc})',
            ) from None
        return self


class JobsFile(_Strict):
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    truv: TruvConfig = Field(default_factory=TruvConfig)
    budgets: BudgetConfig = Field(default_factory=BudgetConfig)
    notify: NotifyConfig | None = None
    loans: LoansConfig = Field(default_factory=LoansConfig)
    policies: list[PolicyConfig] = Field(default_factory=list)
    jobs: list[JobConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> JobsFile:
        # Counted and looked up through sets: a file may hold tens of thousands of policies.
        names = [p.name for p in self.policies]
        for section, listed in (("policies", names), ("jobs", [j.name for j in self.jobs])):
            dupes = sorted(n for n, count in Counter(listed).items() if count > 1)
            if dupes:
                raise ValueError(f"{section}: names must be unique, repeated: {_some(dupes)}")
        defined = set(names)
        found: list[_RefError] = []  # every one: check-config lists them all
        for i, job in enumerate(self.jobs):
            for k, name in enumerate(job.policies):
                if name not in defined:
                    known = _some(names) or "none defined"
                    found.append(
                        _RefError(
                            ("jobs", i, "policies", k),
                            f"names policy {name!r}, {_UNDEFINED} (policies: {known})",
                        )
                    )
        attributes = set(self.loans.attributes)
        for i, policy in enumerate(self.policies):
            for key, wanted in policy.match.items():
                problem = _match_problem(key, wanted, attributes)
                if problem:
                    found.append(_RefError(("policies", i, "match", key), problem))
        if found:
            found[0].more = found[1:]
            raise found[0]
        return self

    def policy(self, name: str) -> PolicyConfig:
        return next(p for p in self.policies if p.name == name)

    def job(self, name: str | None) -> JobConfig:
        if name is None:
            if not self.jobs:
                raise ConfigError("jobs.yaml", "jobs", "no job is defined; add one under jobs:")
            return self.jobs[0]
        for job in self.jobs:
            if job.name == name:
                return job
        known = ", ".join(j.name for j in self.jobs) or "none"
        raise ConfigError("jobs.yaml", "jobs", f"no job named {name!r} (jobs: {known})")


def _some(names: list[str], shown: int = 10) -> str:
    """A list for a message: the first few names, and how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _match_problem(key: str, wanted: Any, attributes: set[str]) -> str | None:
    """Why `match: {key: wanted}` would match nothing, or None.

    A key that is neither a loan field nor a declared attribute, or a value the loans file can never
    hold, passed silently before and left the policy selecting no loan at all.
    """
    if key not in LOAN_FIELDS and key not in attributes:
        if key in KNOWN:
            return f"{key!r} cannot be matched on (use max_age and pre_closing_business_days for dates)"
        declared = ", ".join(sorted(attributes)) or "none"
        close = difflib.get_close_matches(key, [*LOAN_FIELDS, *sorted(attributes)], n=1, cutoff=0.6)
        if close:
            return f"unknown match key {key!r}; did you mean {close[0]!r}? (loan fields: {', '.join(LOAN_FIELDS)}; attributes: {declared})"
        wanted_list = ", ".join([*sorted(attributes), key])
        return (
            f"unknown match key {key!r}: not a loan field ({', '.join(LOAN_FIELDS)}) nor a declared attribute "
            f"({declared}); to match on an imported column, declare it: `loans: {{attributes: [{wanted_list}]}}`"
        )
    for option in wanted if isinstance(wanted, list) else [wanted]:
        if key == "gse":
            if not isinstance(option, bool):
                return f"expected true or false (unquoted), got {option!r}"
        elif isinstance(option, bool):
            return f"expected text, got the boolean {option!r}: YAML reads yes/no/on/off/true/false unquoted as one; quote it"
        elif isinstance(option, float):
            return f"expected text or a whole number, got {option!r}: quote it as the file writes it"
        elif key == "status" and str(option).strip().lower() not in ("active", "closed"):
            return f"expected active or closed, got {option!r}"
    return None


class _RefError(ValueError):
    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        self.more: list[_RefError] = []  # further problems found by the same validator
        super().__init__(message)


# The C loader when PyYAML has libyaml (several times faster on a large file), else the Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# jobs.yaml is a handful of levels deep; far past that is a mistake or an attack (a recursion bomb).
MAX_DEPTH = 32


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A large file is hundreds of thousands of live nodes, and the cyclic collector rescans them all
    as each batch of new ones is made: that took longer than the parse (6.6 s against 2.7 s for
    50,000 policies). Nothing made here needs it: reference counting frees the tree afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """The document and its node tree (for line numbers), from one parse; the tree is checked first."""
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_nodes(root, source)
        return loader.construct_document(root), root
    finally:
        loader.dispose()


_Trail = tuple[Any, str | int] | None  # (parent's trail, key or index): a path without copying it per node


def _check_nodes(root: yaml.Node, source: str) -> None:
    """Refuse, in one linear walk before any object is built, what YAML accepts but jobs.yaml must not hold:

    * aliases: an alias is its anchor's node itself, so a node met twice is one. A few nested
      aliases multiply into billions of nodes when built or walked (an alias bomb);
    * a key repeated in one mapping: YAML silently keeps the last, hiding the first from review;
    * nesting deeper than MAX_DEPTH.
    """
    met: set[int] = set()
    # (node, depth, trail, line of its key, or of its sequence's key): popped in document order,
    # so an anchor is met before its aliases.
    stack: list[tuple[yaml.Node, int, _Trail, int]] = [(root, 0, None, root.start_mark.line + 1)]
    while stack:
        node, depth, trail, line = stack.pop()
        if id(node) in met:
            raise _refused(source, trail, line, "a YAML alias (*name) is not allowed here: write the value out")
        met.add(id(node))
        if depth > MAX_DEPTH:
            raise _refused(source, trail, line, f"nested more than {MAX_DEPTH} levels deep")
        children: list[tuple[yaml.Node, int, _Trail, int]] = []
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, Any], int] = {}
            for key, value in node.value:
                key_line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode):
                    if earlier := first.get((key.tag, key.value)):
                        where = (trail, str(key.value))
                        raise _refused(source, where, key_line, f"repeated key (first on line {earlier}): say it once")
                    first[(key.tag, key.value)] = key_line
                children.append((value, depth + 1, (trail, str(key.value)), key_line))
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, depth + 1, (trail, i), line) for i, item in enumerate(node.value)]
        stack.extend(reversed(children))


def _refused(source: str, trail: _Trail, line: int, message: str) -> ConfigError:
    path: list[str | int] = []
    while trail is not None:
        trail, part = trail
        path.append(part)
    return ConfigError(source, f"{_loc_text(tuple(reversed(path)))} (line {line})", message)


def _line_at(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """The line of the deepest part of `loc` present in the file (a missing key points at its parent).

    Looked up only when an error is reported: a map of every node's line costs more than the parse.
    """
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _loc_text(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_config(text: str, source: str = "jobs.yaml") -> JobsFile:
    """Validate jobs.yaml text; every failure is a ConfigError naming the key path and line."""
    with _collector_paused():
        return _parse_config(text, source)


def _parse_config(text: str, source: str) -> JobsFile:
    raw, root = _mapping(text, source)
    try:
        return JobsFile.model_validate(raw)
    except ValidationError as exc:
        raise _validation_error(exc, root, source, raw) from None


def _mapping(text: str, source: str) -> tuple[dict[str, Any], Any]:
    """The YAML as a mapping of sections, and its node tree (for line numbers); ConfigError otherwise."""
    try:
        raw, root = _load_yaml(text, source)
    except yaml.YAMLError as exc:
        raise ConfigError(source, *_yaml_problem(exc, text)) from None
    except RecursionError:  # the pure-Python parser (no libyaml) recurses per level before any check
        raise ConfigError(source, "", f"not valid YAML: nested more than {MAX_DEPTH} levels deep") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, "(top level)", "expected a mapping of sections (database, truv, ...)")
    return raw, root


def _validation_error(exc: ValidationError, root: Any, source: str, raw: Mapping[str, object]) -> ConfigError:
    """Every problem pydantic found, the first named and the rest carried for `check-config`; with the
    jobs' references to undefined policies too, which pydantic checks only once every field is valid."""
    problems = [p for err in _kept(exc.errors(include_url=False)) for p in _problems(err, root, source)]
    if not any(_UNDEFINED in p.message for p in problems):
        problems += [_located(source, root, loc, message) for loc, message in _undefined_policies(raw)]
    if len(problems) == 1:
        return problems[0]
    head = problems[0]
    more = f" (and {len(problems) - 1} more: `monitor check-config` lists them all)"
    error = ConfigError(head.source, head.location, head.message + more)
    error.problems = tuple(problems)
    return error


def _kept(errors: list[Any]) -> list[Any]:
    """A misspelt key first (it also shows up as a missing one, and the spelling is the useful message),
    without the missing-key errors it explains."""
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    misspelt = {tuple(e["loc"][:-1]) for e in errors if e["type"] == "extra_forbidden"}
    ordered = [first] + [e for e in errors if e is not first]
    return [e for e in ordered if not (e["type"] == "missing" and tuple(e["loc"][:-1]) in misspelt)]


_UNDEFINED = "which is not defined"


def _undefined_policies(raw: Mapping[str, object]) -> list[tuple[tuple[str | int, ...], str]]:
    """Jobs naming a policy the file does not define, read from the raw YAML (the rest may not validate)."""
    policies, jobs = raw.get("policies"), raw.get("jobs")
    if not isinstance(policies, list) or not isinstance(jobs, list):
        return []
    names = [p["name"] for p in policies if isinstance(p, dict) and isinstance(p.get("name"), str)]
    defined, known = set(names), _some(names) or "none defined"
    return [
        (("jobs", i, "policies", k), f"names policy {name!r}, {_UNDEFINED} (policies: {known})")
        for i, job in enumerate(jobs)
        for k, name in enumerate(_listed_policies(job))
        if isinstance(name, str) and name not in defined
    ]


def _listed_policies(job: object) -> list[object]:
    listed = job.get("policies") if isinstance(job, dict) else None
    return listed if isinstance(listed, list) else []


def _located(source: str, root: Any, loc: tuple[str | int, ...], message: str) -> ConfigError:
    line = _line_at(root, loc)
    return ConfigError(source, _loc_text(loc) + (f" (line {line})" if line else ""), message)


def _problems(err: Any, root: Any, source: str) -> list[ConfigError]:
    """One pydantic error as ConfigErrors naming key path and line (a reference check may carry several)."""
    ctx_error = (err.get("ctx") or {}).get("error")
    refs = [ctx_error, *ctx_error.more] if isinstance(ctx_error, _RefError) else [None]
    out = []
    for ref in refs:
        loc: tuple[str | int, ...] = tuple(err["loc"])
        if ref is not None:
            loc = (*loc, *ref.loc)
        message = str(ref if ref is not None else ctx_error) if ctx_error is not None else err["msg"]
        if err["type"] == "extra_forbidden":
            message = _unknown_key(loc)
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "literal_error":
            message = f"{err['msg']}, got {err.get('input')!r}"
        line = _line_at(root, loc)
        where = _loc_text(loc) + (f" (line {line})" if line else "")
        out.append(ConfigError(source, where, message))
    return out


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    """An unknown key, with the nearest allowed one and the keys allowed there."""
    keys = _keys_at(loc[:-1])
    key = str(loc[-1])
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (keys here: {', '.join(keys)})" if keys else f"unknown key {key!r}"


def _keys_at(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model at `loc` (a path into JobsFile) accepts; [] when it is not a model."""
    model: type[BaseModel] | None = JobsFile
    for part in loc:
        if isinstance(part, int):
            continue  # a list's item: its model was taken from the list's annotation
        field = model.model_fields.get(part) if model is not None else None
        model = _model_in(field.annotation) if field is not None else None
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model in an annotation such as `list[PolicyConfig]` or `NotifyConfig | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if found := _model_in(arg):
            return found
    return None


def _yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[str, str]:
    """(where, message) on one line for a YAML syntax error."""
    mark = getattr(exc, "problem_mark", None)
    position = getattr(exc, "position", None)
    if mark is not None:
        where = f"line {mark.line + 1}"
    elif isinstance(position, int):  # a reader error: a character YAML does not allow
        where = f"line {text.count(chr(10), 0, position) + 1}"
    else:
        where = ""
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
    return where, f"not valid YAML: {' '.join(str(problem).split())}"


def load_config(path: Path) -> JobsFile:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found; pass --config PATH or set MONITOR_CONFIG") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot be read: {exc.strerror}") from None
    return parse_config(_decode(data, str(path)), str(path))


def _decode(data: bytes, source: str) -> str:
    """UTF-8 (a BOM allowed); anything else is refused with the line, not guessed at."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1  # exc.object: the bytes after any BOM
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ConfigError(
            source, f"line {line}", f"not UTF-8 text (byte {exc.object[exc.start]:#04x}){hint}; save it as UTF-8"
        ) from None


def secret_from_env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """NAME, else the content of the file NAME_FILE names (surrounding whitespace dropped).

    A secret mounted as a file (Kubernetes, Docker, systemd LoadCredential) stays out of the
    process's environment, `ps` and shell history. NAME wins when both are set.
    """
    env = os.environ if environ is None else environ
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise ConfigError("environment", f"{name}_FILE", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError("environment", f"{name}_FILE", f"{path} is not UTF-8 text") from None


@dataclass(frozen=True)
class Settings:
    """What comes from the environment: where things are and the credentials. Never in jobs.yaml."""

    config_path: Path
    database_url: str | None
    base_url: str | None
    client_id: str | None
    secret: str | None
    metrics_token: str | None = None  # /metrics and /healthz detail on a port that receives webhooks

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            config_path=Path(env.get("MONITOR_CONFIG") or "jobs.yaml"),
            database_url=secret_from_env("MONITOR_DATABASE_URL", env),
            base_url=env.get("TRUV_BASE_URL") or None,
            client_id=secret_from_env("TRUV_CLIENT_ID", env),
            secret=secret_from_env("TRUV_SECRET", env),
            metrics_token=secret_from_env("MONITOR_METRICS_TOKEN", env),
        )

    def require_credentials(self) -> tuple[str, str]:
        missing = [n for n, v in (("TRUV_CLIENT_ID", self.client_id), ("TRUV_SECRET", self.secret)) if not v]
        if missing:
            raise ConfigError(
                "environment",
                " and ".join(missing),
                "not set; Truv credentials come only from the environment "
                "(try `monitor demo` to see the job without credentials)",
            )
        assert self.client_id and self.secret
        return self.client_id, self.secret
