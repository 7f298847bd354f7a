"""jobs.yaml's monitoring and loans sections: when a fall in income is a finding, which columns a loans
file may add."""

from __future__ import annotations

from collections import Counter

from pydantic import Field, field_validator, model_validator

from monitor.config.refs import some
from monitor.config.sections import Strict
from monitor.config.values import parse_share
from monitor.loans_file import COLUMNS as KNOWN

# As wide as the store's attribute key column.
MAX_ATTRIBUTE_NAME = 128


class MonitoringConfig(Strict):
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


class LoansConfig(Strict):
    """The loans file's columns beyond the known ones: each must be declared to be imported or matched on."""

    attributes: list[str] = Field(default_factory=list)

    @field_validator("attributes")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if problem := _name_problem(name):
                raise ValueError(problem)
        dupes = sorted(n for n, count in Counter(value).items() if count > 1)
        if dupes:
            raise ValueError(f"names must be unique, repeated: {some(dupes)}")
        return value


def _name_problem(name: str) -> str | None:
    if not name or name != name.strip() or any(c in name for c in "\r\n\x00"):
        return f"expected column names as in the file's header (no surrounding spaces), got {name!r}"
    if len(name) > MAX_ATTRIBUTE_NAME:
        return f"expected names of at most {MAX_ATTRIBUTE_NAME} characters, got {len(name)}"
    if name in KNOWN:
        return f"{name!r} is a loan field ({', '.join(KNOWN)}), not an attribute: leave it out"
    return None
