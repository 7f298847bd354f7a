"""A policy: which loans it matches, what it refreshes and when, and its agency pre-closing rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from monitor.config.monitoring import MonitoringConfig
from monitor.config.preset import RULE_FIELDS, PresetName, rule_of, with_preset
from monitor.config.refs import RefError
from monitor.config.sections import Strict
from monitor.config.values import parse_duration
from monitor.core.agency_rules import PRESETS as AGENCY_PRESETS
from monitor.core.agency_rules import AgencyRule
from monitor.core.agency_rules import custom as custom_rule

PRODUCTS = ("income", "employment", "assets", "insurance", "transactions")
DEFAULT_PURPOSE = "FCRA 604(a)(3)(A): credit transaction with the consumer (review of an active loan)"
MatchValue = str | int | float | bool


class PolicyConfig(Strict):
    name: str = Field(min_length=1)
    match: dict[str, MatchValue | list[MatchValue]] = Field(default_factory=dict)
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
        return with_preset(data)

    @model_validator(mode="after")
    def _rule_fields(self) -> PolicyConfig:
        given = [f for f in RULE_FIELDS if getattr(self, f) is not None]
        if given and self.use is None:
            raise RefError(
                (given[0],),
                f"a rule field needs a preset: add `use:` ({', '.join(AGENCY_PRESETS)}) to override its {given[0]}",
            )
        return self

    def rule(self) -> AgencyRule | None:
        """The pre-closing rule that judges this policy's loans: its preset with overrides, its own
        `pre_closing_business_days`, or None (no pre-closing window)."""
        if self.use is not None:
            return rule_of(self.model_dump())
        if self.pre_closing_business_days:
            return custom_rule(self.pre_closing_business_days)
        return None

    @field_validator("max_age", mode="before")
    @classmethod
    def _duration(cls, value: object) -> timedelta:
        return parse_duration(value)

    @field_validator("match", mode="before")
    @classmethod
    def _match_values(cls, value: object) -> object:
        """Checked before pydantic's types, so a wrong value is named as jobs.yaml's reader knows it."""
        if not isinstance(value, dict):
            return value  # pydantic names a match that is not a mapping
        for key, wanted in value.items():
            options = wanted if isinstance(wanted, list) else [wanted]
            if not options:
                raise ValueError(f"match.{key}: an empty list matches nothing")
            for option in options:
                if not isinstance(option, str | int | float | bool):
                    raise ValueError(f"match.{key}: expected a value or a list of values, got {option!r}")
        return value
