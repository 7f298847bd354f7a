"""The demo's sandbox orders and the loans file that points at them."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

from monitor.core.calendar import add_business_days
from monitor.demo.book import LOANS, MONITORED
from monitor.sandbox import EmployerSpec, Sandbox


def seed(sandbox: Sandbox, loans_csv: Path, tonight: datetime) -> None:
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
