"""`monitor demo`: the whole job on SQLite and the built-in sandbox, with simulated time.

Five weekly passes of GSE monitoring run first (the history that uses up one loan's GSE
re-verifications), then tonight's pass is shown in full. The rooms: config_text.py (its jobs.yaml),
book.py (the loans), seed.py (the sandbox's orders and the loans file), tables.py (per loan, re-auth),
printing.py (the story on the terminal).
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import TypedDict

from monitor.app import build_client, open_database
from monitor.clock import FixedClock, SystemClock
from monitor.config import Settings, parse_config
from monitor.core.readable import dumps
from monitor.demo.book import DEMO_SECRET, SHOWN_LOAN
from monitor.demo.config_text import DEMO_CONFIG
from monitor.demo.printing import print_changes, print_demo, print_looks
from monitor.demo.seed import seed
from monitor.demo.tables import LoanLine, ReauthLine, per_loan, reauth_lines
from monitor.jobs.monitoring import read_reports
from monitor.jobs.outcomes import fetch_report_ids
from monitor.jobs.pass_summary import PassSummary
from monitor.jobs.plan import Plan
from monitor.jobs.refresh_pass import JobPass
from monitor.loans_file import read_rows
from monitor.reports.ledger_view import ledger_view
from monitor.reports.loan_shapes import LoanShow
from monitor.reports.loan_view import loan_show
from monitor.sandbox import Sandbox, SandboxTransport
from monitor.services import Services
from monitor.store.db import session
from monitor.store.handoff_payloads import FindingDict
from monitor.store.loan_import import import_loans
from monitor.store.monitoring import findings


class DemoResult(TypedDict):
    """What `monitor demo --json` prints."""

    directory: str
    history: list[dict[str, object]]
    plan: dict[str, object]
    tonight: dict[str, object]
    webhooks: dict[str, int]
    loans: list[LoanLine]
    needs_reauth: list[ReauthLine]
    changes: list[FindingDict]
    loan_show: LoanShow


def run_demo(directory: Path, *, as_json: bool = False) -> DemoResult:
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
    seed(sandbox, loans_csv, tonight)

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
    loans_table = per_loan(services, result.run_id)
    reauth = reauth_lines(services)
    view = ledger_view(services, loan_id=None, limit=50, now=clock.now())
    loan_view = loan_show(services, SHOWN_LOAN, now=clock.now())
    out: DemoResult = {
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
    print_demo(directory, history, result, loans_table, reauth, view, webhooks, loan_view)
    print_changes(changes)
    print_looks(directory, history[0].started_at, result.started_at)
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
