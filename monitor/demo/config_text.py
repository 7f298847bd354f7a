"""The demo's own jobs.yaml: three policies over a book of seventeen loans, two jobs."""

DEMO_CONFIG = """\
# The demo's own jobs.yaml. Secrets never live here: TRUV_CLIENT_ID / TRUV_SECRET come from the
# environment (the demo uses the built-in sandbox, which needs none).
database: {url: "sqlite:///DEMO_DB"}
truv: {base_url: "https://prod.truv.com/v1/", requests_per_minute: 300, concurrency: 1}
budgets: {per_token_per_24h: 3, gse_per_90d: 5, gse_overage: block}
loans: {attributes: [program]}  # loans.csv's columns beyond the known ones: imported, and matched on below
policies:
  - name: gse-weekly            # periodic income monitoring on GSE loans
    match: {program: gse-weekly}
    product: income
    max_age: 6d
  - name: income-monitoring     # periodic income monitoring: weekly, and tell the lender what changed
    match: {program: monitoring}
    product: income
    max_age: 6d
    monitoring: {income_drop_review: 5%, income_drop_material: 10%}
  - name: income-30d            # everything else: 30 days, and fresh within 10 business days of closing
    match: {status: active}
    product: income
    max_age: 30d
    pre_closing_business_days: 10
jobs:
  - {name: nightly, schedule: "0 2 * * *", timezone: America/New_York, policies: [gse-weekly, income-monitoring, income-30d], max_refreshes: 100}
  - {name: weekly-gse, schedule: "0 3 * * 1", timezone: America/New_York, policies: [gse-weekly, income-monitoring], max_refreshes: 100}
"""
