"""jobs.yaml's plain sections: database, truv, budgets, notify. Every model is strict: an unknown key is
an error, never ignored."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.config.values import parse_duration

DEFAULT_DATABASE_URL = "sqlite:///monitor.db"
DEFAULT_BASE_URL = "https://prod.truv.com/v1/"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(Strict):
    url: str = DEFAULT_DATABASE_URL


class TruvConfig(Strict):
    base_url: str = DEFAULT_BASE_URL
    requests_per_minute: int = Field(300, gt=0, le=100_000)
    timeout_seconds: float = Field(30.0, gt=0)
    concurrency: int = Field(8, ge=1, le=64)
    # Connection failures or timeouts in a row after which a pass stops as `truv_unreachable`.
    max_consecutive_failures: int = Field(10, ge=1, le=10_000)


class BudgetConfig(Strict):
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


class NotifyConfig(Strict):
    """Where hand-offs (a borrower must reconnect) are posted: the lender's own system."""

    url: str = Field(pattern=r"^https?://")
    secret_env: str = Field("MONITOR_NOTIFY_SECRET", pattern=r"^[A-Z_][A-Z0-9_]*$")
    timeout_seconds: float = Field(10.0, gt=0)
