"""What changed since the last verification (DESIGN.md rule 14). Pure: two snapshots in, findings out.

Truv's `*-updated` webhooks only say *that* something changed; the comparison is ours. Each field is
compared only with the same field, in the same unit, of the same connection's previous report
(truv-api.md section 9): `income` and `pay_rate` need not agree with each other in Truv's data.
A missing field is absent, never zero, so it can never look like a drop.

The rooms: values (Truv's money and dates), readings (what a report says), findings (rules and
severities); the rules by subject: income, hours, pay_dates, employment, employers, underwriting (with the
loan's underwriting terms); comparison (one report against the previous one); stored (the JSON form). The names below are the ones the rest of the house uses.
"""

from monitor.core.changes.comparison import compare
from monitor.core.changes.findings import (
    HANDOFF_SEVERITIES,
    SEVERITY_ORDER,
    Finding,
    Rule,
    Severity,
    Thresholds,
    severities_from,
    unverified,
)
from monitor.core.changes.pay_dates import pay_interval
from monitor.core.changes.readings import Employment, Snapshot, Statement
from monitor.core.changes.stored import snapshot_from_dict, snapshot_to_dict
from monitor.core.changes.underwriting import Underwriting, against_underwriting, monthly_income, underwriting_of
from monitor.core.changes.values import day, money

__all__ = [
    "HANDOFF_SEVERITIES",
    "SEVERITY_ORDER",
    "Employment",
    "Finding",
    "Rule",
    "Severity",
    "Snapshot",
    "Statement",
    "Thresholds",
    "Underwriting",
    "against_underwriting",
    "compare",
    "day",
    "money",
    "monthly_income",
    "pay_interval",
    "severities_from",
    "snapshot_from_dict",
    "snapshot_to_dict",
    "underwriting_of",
    "unverified",
]
