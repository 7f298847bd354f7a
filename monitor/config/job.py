"""A job: when it runs (cron in a timezone), which policies, how many refreshes a pass may send."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from monitor.config.refs import RefError
from monitor.config.sections import Strict
from monitor.config.values import parse_duration


class JobConfig(Strict):
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
            raise RefError(
                ("schedule",),
                f'expected a 5-field cron like "0 2 * * *", got {self.schedule!r} ({exc})',
            ) from None
        return self
