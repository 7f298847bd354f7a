"""Building blocks for store and end-to-end tests: services over a real database and the sandbox."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from monitor.app import Services, build_client
from monitor.clock import FixedClock
from monitor.config import JobsFile, Settings, parse_config
from monitor.loans_file import read_rows
from monitor.sandbox import EmployerSpec, Sandbox, SandboxTransport
from monitor.store.db import make_engine, session, upgrade
from monitor.store.loan_import import import_loans

CONFIG = """\
truv: {requests_per_minute: 6000, concurrency: CONCURRENCY}
budgets: {per_token_per_24h: 3, gse_per_90d: 5, gse_overage: OVERAGE}
policies:
  - {name: income-30d, match: {}, product: income, max_age: MAXAGE, pre_closing_business_days: 10}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d], max_refreshes: MAXREF}
"""

SETTINGS = Settings(config_path=Path("jobs.yaml"), database_url=None, base_url=None, client_id=None, secret=None)


def config(
    *, overage: str = "block", concurrency: int = 4, max_refreshes: int = 1000, max_age: str = "30d"
) -> JobsFile:
    return parse_config(
        CONFIG.replace("OVERAGE", overage)
        .replace("CONCURRENCY", str(concurrency))
        .replace("MAXREF", str(max_refreshes))
        .replace("MAXAGE", max_age)
    )


def services(db_url: str, clock: FixedClock, sandbox: Sandbox | None, cfg: JobsFile | None = None) -> Services:
    cfg = cfg or config()
    client = None
    if sandbox is not None:
        client = build_client(
            cfg, SETTINGS, clock, transport=SandboxTransport(sandbox), client_id="test", secret="sandbox-test"
        )
    engine = make_engine(db_url)
    upgrade(engine)  # what `monitor db upgrade` does; Postgres is never migrated implicitly
    return Services(config=cfg, engine=engine, clock=clock, client=client)


def seed_loans(
    sandbox: Sandbox, specs: Sequence[dict[str, Any]], tmp_path: Path, clock: FixedClock
) -> list[dict[str, str]]:
    """specs: loan_id, employers (list of (scenario, token or None)), gse, age_days, closing_date, products."""
    rows = []
    for spec in specs:
        employers = [EmployerSpec(scenario=sc, access_token=tok) for sc, tok in spec.get("employers", [("ok", None)])]
        order = sandbox.add_order(
            order_number=spec["loan_id"],
            products=spec.get("products", ("income",)),
            employers=employers,
            # The order completed when its data was collected: Truv's date and the imported one agree.
            created_at=clock.now() - timedelta(days=spec.get("age_days", 40)),
        )
        rows.append(
            {
                "loan_id": spec["loan_id"],
                "order_id": order["id"],
                "gse": str(spec.get("gse", False)).lower(),
                "status": "active",
                "closing_date": spec.get("closing_date", ""),
                "data_as_of": (clock.now() - timedelta(days=spec.get("age_days", 40))).isoformat(),
            }
        )
    return rows


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def import_csv(svc: Services, path: Path, *, full_snapshot: bool = False) -> Any:
    with session(svc.engine) as s:
        return import_loans(s, read_rows(path), now=svc.clock.now(), full_snapshot=full_snapshot, source=str(path))


def accepted_per_token(sandbox: Sandbox) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for entry in sandbox.refreshes():
        for token in entry["token_hashes"]:
            out.setdefault(token, []).append(entry["at"])
    return out
