"""Why a policy's `match: {key: wanted}` would match nothing. A key that is neither a loan field nor a
declared attribute, or a value the loans file can never hold, passed silently before and left the
policy selecting no loan at all."""

from __future__ import annotations

import difflib

from monitor.config.policy import MatchValue
from monitor.loans_file import COLUMNS as KNOWN

# What a policy's `match` may name besides the attributes jobs.yaml declares (`loans: {attributes: [...]}`).
LOAN_FIELDS = ("gse", "status", "loan_id", "order_id")


def match_problem(key: str, wanted: MatchValue | list[MatchValue], attributes: set[str]) -> str | None:
    if key not in LOAN_FIELDS and key not in attributes:
        return _unknown_key(key, attributes)
    for option in wanted if isinstance(wanted, list) else [wanted]:
        if problem := _value_problem(key, option):
            return problem
    return None


def _unknown_key(key: str, attributes: set[str]) -> str:
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


def _value_problem(key: str, option: MatchValue) -> str | None:
    if key == "gse":
        return None if isinstance(option, bool) else f"expected true or false (unquoted), got {option!r}"
    if isinstance(option, bool):
        return (
            f"expected text, got the boolean {option!r}: YAML reads yes/no/on/off/true/false unquoted as one; quote it"
        )
    if isinstance(option, float):
        return f"expected text or a whole number, got {option!r}: quote it as the file writes it"
    if key == "status" and str(option).strip().lower() not in ("active", "closed"):
        return f"expected active or closed, got {option!r}"
    return None
