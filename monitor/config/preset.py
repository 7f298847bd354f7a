"""A policy's agency preset (`use: fannie-preclose`): the fields it fills, its rule with the policy's
overrides, and the business days before closing the pass refreshes in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from monitor.config.refs import RefError
from monitor.core.agency_rules import PRESETS as AGENCY_PRESETS
from monitor.core.agency_rules import AgencyRule

PresetName = Literal["fannie-preclose", "freddie-preclose", "fha-preclose", "va-preclose", "usda-preclose"]
# What a preset's policy is when jobs.yaml leaves it out: a VOE policy refreshing data older than the
# agencies' 120-day document age.
_PRESET_DEFAULTS = {"product": "employment", "max_age": "120d"}
RULE_FIELDS = (
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


def with_preset(data: Mapping[str, object]) -> dict[str, object]:
    """`use: fannie-preclose` fills name, product, max_age and the pass's pre-closing trigger."""
    use = data["use"]
    if use not in AGENCY_PRESETS:  # the Literal names the presets; nothing else is asked for
        return {"name": str(use), **_PRESET_DEFAULTS, **data}
    if data.get("pre_closing_business_days") is not None:
        raise RefError(
            ("pre_closing_business_days",),
            f"not with `use: {use}`: the preset's window applies; override it with `window` and `window_unit`",
        )
    merged = {"name": use, **_PRESET_DEFAULTS, **data}
    rule = rule_of(merged)
    if rule is not None:
        merged["pre_closing_business_days"] = _trigger_days(rule)
    return merged


def rule_of(fields: Mapping[str, Any]) -> AgencyRule | None:
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
