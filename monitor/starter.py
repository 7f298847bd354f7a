"""`monitor init`: a commented starting jobs.yaml, with a loans file's extra columns declared."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

from pydantic import ValidationError

from monitor.config import LoansConfig, parse_config
from monitor.errors import ImportFileError
from monitor.loans_file import COLUMNS, columns

# A name YAML reads back as itself unquoted; anything else (a space, `#`, `yes`, `1`) is written quoted.
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}

TEMPLATE = """\
# monitor's jobs.yaml: which loans to keep fresh, how fresh, and when to look.
# Written by `monitor init`{origin}. Check it with `monitor check-config` after each edit.
# Secrets never live here: TRUV_CLIENT_ID and TRUV_SECRET come from the environment.

# Where monitor keeps its state. MONITOR_DATABASE_URL (or --database) wins over this.
# Postgres: "postgresql://monitor@db.internal/monitor" (the password in PGPASSFILE, not here).
database:
  url: "sqlite:///monitor.db"

# Truv's API. TRUV_BASE_URL wins over base_url (the built-in sandbox: http://127.0.0.1:8765/v1/).
truv:
  base_url: "https://prod.truv.com/v1/"
  requests_per_minute: 300          # Truv's limit per secret; monitor paces itself under it
  timeout_seconds: 30               # per request
  concurrency: 8                    # refreshes worked at once
  max_consecutive_failures: 10      # connection failures in a row that stop a pass (truv_unreachable)

# Truv's refresh budgets, kept in monitor's own ledger.
budgets:
  per_token_per_24h: 3              # refreshes per access token in a rolling 24 h
  gse_per_90d: 5                    # free re-verifications per GSE loan within 90 days of its order
  gse_overage: block                # block: never past gse_per_90d; paid: go on, marked billable
  # billable_per_day: 200           # optional cap on billable (every non-GSE) refreshes per rolling 24 h

# The loans file's columns beyond loan_id, order_id, gse, status, closing_date and data_as_of.
# `monitor loans import` refuses a column not declared here (a misspelt closing_date would
# otherwise switch the pre-closing rule off), and a policy's match may name only these and the
# loan fields.
loans:
  attributes: [{attributes}]{attributes_note}

# Worked in the order a job lists them; a loan is refreshed at most once per pass.
policies:
  - name: income-30d
    match: {{status: active}}         # loan fields (gse: true/false, status, loan_id, order_id) or attributes;
                                    # every key must match, a list means any of its values{match_example}
    product: income                 # income | employment | assets | insurance | transactions
    max_age: 30d                    # stale when older: 90m, 24h, 30d, 2w
    pre_closing_business_days: 10   # optional: fresh within N business days of closing_date

# When `monitor schedule` runs each job (or `monitor run nightly` from cron).
jobs:
  - name: nightly
    schedule: "0 2 * * *"           # 5-field cron: minute hour day-of-month month day-of-week
    timezone: America/New_York      # IANA zone the schedule is read in
    policies: [income-30d]
    max_refreshes: 1000             # refresh requests per pass
"""


def yaml_name(name: str) -> str:
    """A column name as a YAML flow-list item that reads back as exactly that string."""
    if _PLAIN.match(name) and name.lower() not in _YAML_WORDS:
        return name
    return json.dumps(name)  # a JSON string is a valid double-quoted YAML scalar


def extra_columns(loans_file: Path) -> list[str]:
    """The file's columns that jobs.yaml must declare; a name jobs.yaml could not hold is refused."""
    extra = [c for c in columns(loans_file) if c and c not in COLUMNS]
    try:
        LoansConfig(attributes=extra)
    except ValidationError as exc:
        raise ImportFileError(
            str(loans_file), "row 1 (header)", f"cannot be declared as attributes: {exc.errors()[0]['msg']}"
        ) from None
    return extra


def near_misses(attributes: list[str]) -> dict[str, str]:
    """Extra columns that look like a known one (`closing_dt` for `closing_date`): declared as attributes
    they would import quietly while the known field, and the rule that reads it, stays empty."""
    found = {}
    for column in attributes:
        # 0.75: closing_dt, loanid, order, data_as_at are caught; a short word like "yes" is not (0.67 to gse)
        close = difflib.get_close_matches(column.lower(), COLUMNS, n=1, cutoff=0.75)
        if close:
            found[column] = close[0]
    return found


def render(attributes: list[str], *, origin: Path | None) -> str:
    """The commented jobs.yaml; it is parsed before it is returned, so it always passes check-config."""
    example = ""
    if attributes:
        example = f"\n    # match: {{status: active, {yaml_name(attributes[0])}: [some, values]}}"
    text = TEMPLATE.format(
        origin=f" from {origin.name}" if origin else "",
        attributes=", ".join(yaml_name(a) for a in attributes),
        attributes_note=f"   # the extra columns of {origin.name}" if origin and attributes else "",
        match_example=example,
    )
    parsed = parse_config(text, "monitor init")
    assert parsed.loans.attributes == attributes, (parsed.loans.attributes, attributes)
    return text
