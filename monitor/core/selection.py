"""What a policy selects, as of the start of a pass: one value passed whole to every selection query."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Selection:
    """A policy's selection (DESIGN.md rules 10 and 11): which loans it matches, how old their data may
    be, its pre-closing window and its product's scope. The staleness cutoff does not move during a pass."""

    match: Mapping[str, Any]
    max_age_cutoff: datetime  # data older than this is stale
    pre_closing_days: int | None  # business days before closing in which data must be newer than their start
    scope: str = "employer"  # the kind of connection the policy's product judges (`employer`, `account`, ...)
