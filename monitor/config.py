"""jobs.yaml models (strict: an unknown key is an error) and settings from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
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

from monitor.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///monitor.db"
DEFAULT_BASE_URL = "https://prod.truv.com/v1/"
PRODUCTS = ("income", "employment", "assets", "insurance", "transactions")
LOAN_FIELDS = ("gse", "status", "loan_id", "order_id")
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


class PolicyConfig(_Strict):
    name: str = Field(min_length=1)
    match: dict[str, Any] = Field(default_factory=dict)
    product: Literal["income", "employment", "assets", "insurance", "transactions"]
    max_age: timedelta
    pre_closing_business_days: int | None = Field(None, ge=1, le=60)
    # Recorded on every audit entry of this policy: why the borrower's data may be pulled.
    permissible_purpose: str = Field(DEFAULT_PURPOSE, min_length=3, max_length=160)

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
    policies: list[PolicyConfig] = Field(default_factory=list)
    jobs: list[JobConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> JobsFile:
        names = [p.name for p in self.policies]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"policies: names must be unique, repeated: {', '.join(dupes)}")
        jobs = [j.name for j in self.jobs]
        dupes = sorted({n for n in jobs if jobs.count(n) > 1})
        if dupes:
            raise ValueError(f"jobs: names must be unique, repeated: {', '.join(dupes)}")
        for i, job in enumerate(self.jobs):
            for k, name in enumerate(job.policies):
                if name not in names:
                    known = ", ".join(names) or "none defined"
                    raise _RefError(
                        ("jobs", i, "policies", k),
                        f"names policy {name!r}, which is not defined (policies: {known})",
                    )
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


class _RefError(ValueError):
    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)


def _line_map(text: str) -> dict[tuple[str | int, ...], int]:
    """Key path -> 1-based line, from the YAML node tree, so errors can point at the line."""
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, str(key.value))
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


def _loc_text(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _nearest_line(lines: Mapping[tuple[str | int, ...], int], loc: tuple[str | int, ...]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def parse_config(text: str, source: str = "jobs.yaml") -> JobsFile:
    """Validate jobs.yaml text; every failure is a ConfigError naming the key path and line."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, where, f"not valid YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, "(top level)", "expected a mapping of sections (database, truv, ...)")
    lines = _line_map(text)
    try:
        return JobsFile.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # A misspelt key also shows up as a missing one; the spelling is the useful message.
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        ctx_error = (err.get("ctx") or {}).get("error")
        loc: tuple[str | int, ...] = tuple(err["loc"])
        if isinstance(ctx_error, _RefError):
            loc = (*loc, *ctx_error.loc)
        message = str(ctx_error) if ctx_error is not None else err["msg"]
        if err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}; check the spelling (see README, jobs.yaml reference)"
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "literal_error":
            message = f"{err['msg']}, got {err.get('input')!r}"
        line = _nearest_line(lines, loc)
        where = _loc_text(loc) + (f" (line {line})" if line else "")
        raise ConfigError(source, where, message) from None


def load_config(path: Path) -> JobsFile:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found; pass --config PATH or set MONITOR_CONFIG") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot be read: {exc.strerror}") from None
    return parse_config(text, str(path))


@dataclass(frozen=True)
class Settings:
    """What comes from the environment: where things are and the credentials. Never in jobs.yaml."""

    config_path: Path
    database_url: str | None
    base_url: str | None
    client_id: str | None
    secret: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            config_path=Path(env.get("MONITOR_CONFIG") or "jobs.yaml"),
            database_url=env.get("MONITOR_DATABASE_URL") or None,
            base_url=env.get("TRUV_BASE_URL") or None,
            client_id=env.get("TRUV_CLIENT_ID") or None,
            secret=env.get("TRUV_SECRET") or None,
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
