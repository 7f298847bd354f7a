"""Migration 0015: findings recorded before it are `open` (unresolved), and a disposition round-trips."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import column, insert, select, table

from monitor.store.db import MIGRATIONS, make_engine, session, upgrade
from monitor.store.monitoring import dispose, findings
from monitor.store.tables import finding_table
from tests.conftest import T0


def test_findings_from_before_the_migration_are_open_and_can_be_resolved(db_url):
    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:  # the schema as the previous release left it
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012")
        conn.commit()
    # Only the columns 0012 has: the current model would also write the new ones.
    before_0015 = table(
        "finding", *(column(c) for c in ("loan_id", "rule", "severity", "confidence", "detected_at", "detail"))
    )
    with engine.begin() as conn:
        conn.execute(
            insert(before_0015).values(
                loan_id="L1", rule="job_loss", severity="critical", confidence="confirmed", detected_at=T0, detail="{}"
            )
        )
    upgrade(engine)
    with session(engine) as s:
        (before,) = findings(s)
        assert (before["disposition"], before["disposition_by"]) == ("open", None)
        done = dispose(s, before["id"], action="resolve", note="verified", by="operator:ann@host", now=T0)
    assert (done["disposition"], done["disposition_note"], done["disposition_by"]) == (
        "resolved",
        "verified",
        "operator:ann@host",
    )
    with session(engine) as s:
        assert s.execute(select(finding_table.c.disposition)).scalar_one() == "resolved"
