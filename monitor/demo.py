"""`monitor demo`: the whole job on SQLite and the built-in sandbox, with simulated time.

Five weekly passes of GSE monitoring run first (the history that uses up one loan's GSE
re-verifications), then tonight's pass is shown in full.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from monitor.app import build_client, open_database
from monitor.clock import FixedClock, SystemClock
from monitor.config import Settings, parse_config
from monitor.core.calendar import add_business_days
from monitor.core.readable import dumps
from monitor.jobs.monitoring import read_reports
from monitor.jobs.outcomes import fetch_report_ids
from monitor.jobs.pass_summary import PassSummary
from monitor.jobs.plan import Plan
from monitor.jobs.refresh_pass import JobPass
from monitor.loans_file import read_rows
from monitor.render import backlog_line, print_ledger, print_loan, print_summary
from monitor.reports.ledger_shapes import LedgerView
from monitor.reports.ledger_view import ledger_view
from monitor.reports.loan_shapes import LoanShow
from monitor.reports.loan_view import loan_show
from monitor.sandbox import EmployerSpec, Sandbox, SandboxTransport
from monitor.services import Services
from monitor.store.db import session
from monitor.store.demo_reads import connections_needing_reauth, outcomes_by_reservation, run_events
from monitor.store.handoff_payloads import FindingDict
from monitor.store.loan_import import import_loans
from monitor.store.monitoring import findings

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
MONITORED: list[tuple[str, str, dict[str, Any]]] = [
    ("L-2001", "borrower lost the job", {"at_refresh": 6, "job_loss": True}),
    ("L-2002", "pay cut 15%", {"at_refresh": 6, "pay_cut": "15%"}),
    ("L-2003", "new employer", {"at_refresh": 6, "employer_change": True}),
    ("L-2004", "pay stopped coming", {"at_refresh": 3, "missed_pay": True}),
    ("L-2005", "full time to part time", {"at_refresh": 6, "job_type_change": True}),
]


def run_demo(directory: Path, *, as_json: bool = False) -> dict[str, Any]:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    db_path = directory / "demo.db"
    (directory / "jobs.yaml").write_text(DEMO_CONFIG.replace("DEMO_DB", str(db_path.resolve())), encoding="utf-8")
    config = parse_config((directory / "jobs.yaml").read_text(encoding="utf-8"), str(directory / "jobs.yaml"))

    tonight = SystemClock().now().replace(second=0, microsecond=0)
    clock = FixedClock(tonight - timedelta(days=36))
    sandbox = Sandbox(seed=7, clock=clock, completion_delay=5.0, webhook_secret=DEMO_SECRET)
    loans_csv = directory / "loans.csv"
    _seed(sandbox, loans_csv, tonight)

    engine = open_database(f"sqlite:///{db_path}")
    settings = Settings(
        config_path=directory / "jobs.yaml", database_url=None, base_url=None, client_id=None, secret=None
    )
    client = build_client(
        config, settings, clock, transport=SandboxTransport(sandbox), client_id="demo", secret="sandbox-demo"
    )
    services = Services(config=config, engine=engine, clock=clock, client=client)
    with session(engine) as s:
        import_loans(s, read_rows(loans_csv), now=clock.now(), full_snapshot=False, source=str(loans_csv))

    history: list[PassSummary] = []
    for week in range(5, 0, -1):
        clock.set(tonight - timedelta(days=7 * week))
        history.append(JobPass(services, config.job("weekly-gse")).run())
        clock.advance(60)
        _deliver_webhooks(services, sandbox)
    clock.set(tonight)
    plan = Plan(services, config.job("nightly")).run()
    result = JobPass(services, config.job("nightly")).run()
    # The refreshes finish a few (simulated) seconds later; Truv tells us by webhook, not by polling.
    clock.advance(10)
    webhooks = _deliver_webhooks(services, sandbox)
    # The next pass reads the reports of tonight's completed refreshes (monitor never reads them in
    # the receiver); here that step runs on its own so the demo can show what changed.
    fetch_report_ids(services)
    read_reports(services)
    with session(services.engine) as s:
        changes = findings(s, since=tonight - timedelta(days=40))
    loans_table = _per_loan(services, result.run_id)
    reauth = _reauth(services)
    view = ledger_view(services, loan_id=None, limit=50, now=clock.now())
    loan_view = loan_show(services, SHOWN_LOAN, now=clock.now())
    out = {
        "directory": str(directory),
        "history": [h.as_dict() for h in history],
        "plan": plan.as_dict(),
        "tonight": result.as_dict(),
        "webhooks": webhooks,
        "loans": loans_table,
        "needs_reauth": reauth,
        "changes": changes,
        "loan_show": loan_view,
    }
    if as_json:
        print(dumps(out, sort_keys=True))
        return out
    _print(directory, history, result, loans_table, reauth, view, webhooks, loan_view)
    _print_changes(changes)
    _print_looks(directory, history[0].started_at, result.started_at)
    return out


def _deliver_webhooks(services: Services, sandbox: Sandbox) -> dict[str, int]:
    """Post the sandbox's due webhooks, signed, to the real receiver app (in-process ASGI)."""
    import asyncio

    import httpx

    from monitor.webhooks.receiver import create_app

    app = create_app(services, secret=DEMO_SECRET)
    due = sandbox.due_webhooks()

    async def post_all() -> dict[str, int]:
        states: dict[str, int] = {}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
            for hook in due:
                answer = await client.post("/webhooks/truv", content=hook.body, headers=hook.headers)
                state = answer.json().get("status", str(answer.status_code))
                states[state] = states.get(state, 0) + 1
        return states

    return asyncio.run(post_all())


def _seed(sandbox: Sandbox, loans_csv: Path, tonight: datetime) -> None:
    rows = []
    for loan_id, _what, conns, gse, age_days, closing_bd, program, product in LOANS:
        employers = [
            EmployerSpec(scenario=sc, access_token=tok, company=f"{loan_id} Employer {i + 1}")
            for i, (sc, tok) in enumerate(conns)
        ]
        order = sandbox.add_order(
            order_number=loan_id,
            products=(product,),
            employers=employers,
            # 60 days ago: inside the GSE loans' 90-day free window (it starts at the original order)
            created_at=tonight - timedelta(days=60),
        )
        closing = add_business_days(tonight.date(), closing_bd) if closing_bd is not None else None
        rows.append(
            {
                "loan_id": loan_id,
                "order_id": order["id"],
                "gse": str(gse).lower(),
                "status": "active",
                "closing_date": closing.isoformat() if closing else "",
                "data_as_of": (tonight - timedelta(days=age_days)).isoformat(),
                "program": program,
            }
        )
    for loan_id, _what, change in MONITORED:
        order = sandbox.add_order(
            order_number=loan_id,
            products=("income",),
            employers=[{"company": f"{loan_id} Employer", "changes": change}],
            created_at=tonight - timedelta(days=60),
        )
        rows.append(
            {
                "loan_id": loan_id,
                "order_id": order["id"],
                "gse": "false",
                "status": "active",
                "closing_date": "",
                "data_as_of": (tonight - timedelta(days=50)).isoformat(),  # stale at the first weekly pass
                "program": "monitoring",
            }
        )
    with loans_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _per_loan(services: Services, run_id: str) -> list[dict[str, Any]]:
    """What happened to each demo loan tonight, from the event record."""
    events = run_events(services.engine, run_id)
    by_res_outcome = outcomes_by_reservation(services.engine)
    rows = []
    shown = [(loan_id, what) for loan_id, what, *_ in LOANS] + [(loan_id, what) for loan_id, what, _ in MONITORED]
    for loan_id, what in shown:
        mine = [e for e in events if e.loan_id == loan_id]
        decision, outcome = "not selected (fresh)", "-"
        for e in mine:
            d = e.detail
            if e.kind == "skipped":
                decision = f"skipped: {d.get('reason')}"
                if d.get("next_free_at"):
                    decision += f" (frees {str(d['next_free_at'])[:16]})"
            elif e.kind == "reserved":
                decision = "refreshed" + (" (partial: employers filter)" if d.get("partial") else "")
            elif e.kind == "submitted":
                outcome = by_res_outcome.get(e.reservation_id) or "pending"
        rows.append({"loan_id": loan_id, "shows": what, "decision": decision, "outcome": outcome})
    return rows


def _print_changes(changes: list[FindingDict]) -> None:
    c = Console(soft_wrap=False, width=max(100, Console().width))
    c.print("\nIncome monitoring: each refresh's report compared with the connection's previous one:")
    shows = {loan_id: what for loan_id, what, _ in MONITORED}
    t = Table(title="changes found (monitor changes)")
    for col in ("loan", "scripted in the sandbox", "rule", "severity", "field", "before", "after", "found"):
        t.add_column(col)
    for f in changes:
        t.add_row(
            f["loan_id"],
            shows.get(f["loan_id"], "-"),
            f["rule"],
            f["severity"] + (" (probable)" if f["confidence"] == "probable" else ""),
            f["field"] or "-",
            f["before"] or "-",
            f["after"] or "-",
            f"{f['detected_at']:%Y-%m-%d}",
        )
    c.print(t)


def _reauth(services: Services) -> list[dict[str, Any]]:
    return [
        {"loan_id": r.loan_id, "token": r.token_hash[:12], "reason": r.reason, "since": r.since}
        for r in connections_needing_reauth(services.engine)
    ]


def _print(
    directory: Path,
    history: list[PassSummary],
    result: PassSummary,
    loans_table: list[dict[str, Any]],
    reauth: list[dict[str, Any]],
    view: LedgerView,
    webhooks: dict[str, int],
    loan_view: LoanShow,
) -> None:
    c = Console(soft_wrap=False, width=max(100, Console().width))
    c.print(f"monitor demo: SQLite at {directory / 'demo.db'}, the built-in Truv sandbox, simulated time.\n")
    c.print("History: five weekly monitoring passes (GSE loan L-1004, and the income-monitoring loans L-2001..L-2005):")
    for h in history:
        skipped = ", ".join(f"{k} {v}" for k, v in h.skipped.items()) or "none"
        c.print(f"  {h.started_at:%Y-%m-%d}  submitted {h.submitted}, skipped: {skipped}")
    c.print("\nTonight's nightly pass:")
    print_summary(result)
    for policy, line in result.backlog.items():
        c.print(backlog_line(policy, line), highlight=False, soft_wrap=True)
    c.print(
        "(On a long `monitor run` or `loans import`, progress shows as a bar on a terminal, otherwise as a "
        "structured line every 30 s.)",
        soft_wrap=True,
    )
    _print_tonight(c, result, loans_table, reauth, webhooks)
    c.print(_loans_table(loans_table))
    c.print(_reauth_table(reauth))
    print_ledger(view)
    c.print(f"\nOne loan, and why: monitor loans show {SHOWN_LOAN} (--tz America/New_York for local times, --json)")
    print_loan(loan_view)


def _print_tonight(
    c: Console,
    result: PassSummary,
    loans_table: list[dict[str, Any]],
    reauth: list[dict[str, Any]],
    webhooks: dict[str, int],
) -> None:
    """Tonight's outcomes: what the pass counted, and what arrived by webhook after it."""
    outcomes = Counter(row["outcome"] for row in loans_table if row["outcome"] != "-")
    if result.completed < outcomes.get("completed", 0):
        # The pass ends once Truv has accepted its refreshes; their outcomes come later, by webhook.
        c.print(
            f"The pass counted {result.completed} completed: it ends when Truv accepts its refreshes, and their "
            "outcomes arrive afterwards, by webhook (below), or at the next pass's poll."
        )
    arrived = ", ".join(f"{state} {n}" for state, n in sorted(webhooks.items()))
    c.print(f"Outcomes arrived by webhook ({sum(webhooks.values())} signed events, verified and stored: {arrived}).")
    failed = {k: v for k, v in outcomes.items() if k != "completed"}
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(result.skipped.items()))
    c.print(
        f"Tonight: submitted {result.submitted}, completed {outcomes.get('completed', 0)}, failed {sum(failed.values())} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(failed.items()))}); skipped: {skipped}; "
        f"needing the borrower: {len(reauth)}.\n"
    )


def _loans_table(loans_table: list[dict[str, Any]]) -> Table:
    t = Table(title="per loan, tonight")
    for col in ("loan", "shows", "decision", "outcome"):
        t.add_column(col)
    for row in loans_table:
        t.add_row(row["loan_id"], row["shows"], row["decision"], row["outcome"])
    return t


def _reauth_table(reauth: list[dict[str, Any]]) -> Table:
    r = Table(title="connections needing the borrower (Bridge update mode)")
    for col in ("loan", "token (hash)", "why", "since"):
        r.add_column(col)
    for row in reauth:
        r.add_row(
            row["loan_id"],
            row["token"],
            row["reason"] or "-",
            f"{row['since']:%Y-%m-%d %H:%M}" if row["since"] else "-",
        )
    return r


def _print_looks(directory: Path, first: datetime, tonight: datetime) -> None:
    """Last: the commands to look around the demo's database, the console among them."""
    c = Console()
    cfg = directory / "jobs.yaml"
    c.print("\nLook around (the demo's database stays until the next demo):")
    report = f"report --from {first:%Y-%m-%d} --to {tonight:%Y-%m-%d} --out {directory / 'report.html'}"
    looks = ("changes", "reauth list", "loans list --stale", "ledger --loan L-1004", "status", "audit verify", report)
    for command in looks:
        c.print(f"  monitor --config {cfg} {command}", soft_wrap=True)
    # The same database in a browser: the console needs a user first (it never serves signed out).
    c.print(
        f"  monitor --config {cfg} console add-user me --role operator && monitor --config {cfg} console",
        soft_wrap=True,
    )
