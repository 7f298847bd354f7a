"""The demo's book: each loan, what it shows tonight, and the sandbox scenario behind it."""

from __future__ import annotations

SHARED_TOKEN = "demo-shared-borrower-token"
# The loan `monitor loans show` is run on: stale tonight, refreshed, its outcome back by webhook.
SHOWN_LOAN = "L-1002"
DEMO_SECRET = "sandbox-demo"

# loan_id, what it shows, scenario(s), gse, days of data age tonight, closing in business days, program, products
LOANS: list[tuple[str, str, list[tuple[str, str | None]], bool, int, int | None, str, str]] = [
    ("L-1001", "fresh data", [("ok", None)], False, 3, 40, "conventional", "income"),
    ("L-1002", "stale (40 days)", [("ok", None)], True, 40, 30, "conventional", "income"),
    ("L-1003", "pre-closing window", [("ok", None)], True, 15, 4, "conventional", "income"),
    ("L-1004", "GSE budget used up", [("ok", None)], True, 42, 50, "gse-weekly", "income"),
    ("L-1005", "shared token 1/4", [("ok", SHARED_TOKEN)], False, 35, 20, "fha", "income"),
    ("L-1006", "shared token 2/4", [("ok", SHARED_TOKEN)], False, 36, 21, "fha", "income"),
    ("L-1007", "shared token 3/4", [("ok", SHARED_TOKEN)], False, 37, 22, "fha", "income"),
    ("L-1008", "shared token 4/4 + own", [("ok", SHARED_TOKEN), ("ok", None)], False, 38, 23, "fha", "income"),
    ("L-1009", "password changed", [("login_error", None)], False, 45, 25, "va", "income"),
    ("L-1010", "provider wants MFA", [("mfa_error", None)], False, 45, 26, "va", "income"),
    ("L-1011", "provider down", [("unavailable", None)], False, 45, 27, "jumbo", "income"),
    ("L-1012", "employment-only order", [("ok", None)], False, 45, 28, "conventional", "employment"),
]

# Income monitoring: weekly refreshes of these loans, and a change in the borrower's payroll data that
# the sandbox scripts at a given refresh (tonight's is the 6th); monitor must find each one.
MONITORED: list[tuple[str, str, dict[str, object]]] = [
    ("L-2001", "borrower lost the job", {"at_refresh": 6, "job_loss": True}),
    ("L-2002", "pay cut 15%", {"at_refresh": 6, "pay_cut": "15%"}),
    ("L-2003", "new employer", {"at_refresh": 6, "employer_change": True}),
    ("L-2004", "pay stopped coming", {"at_refresh": 3, "missed_pay": True}),
    ("L-2005", "full time to part time", {"at_refresh": 6, "job_type_change": True}),
]
