"""console: indexes for prefix search of loan and order ids, and for browsing the audit trail

Revision ID: 0017
Revises: 0012
Create Date: 2026-12-07 18:40:00

A prefix search is a range (`>= prefix AND < next`) compared in code-point order: SQLite's BINARY
collation does that with a plain index; on Postgres a language collation does not, so the indexes there
are built over `column COLLATE "C"`, the expression monitor.store.console_reads.starts_with compares.
The audit page reads entries by time (`at`, then `seq`), for all kinds or for one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# (index, table, column); loan.loan_id and truv_order.id are primary keys, already indexed on SQLite.
_PREFIX = [
    ("ix_loan_loan_id_prefix", "loan", "loan_id"),
    ("ix_loan_order_id_prefix", "loan", "order_id"),
    ("ix_loan_original_order_id_prefix", "loan", "original_order_id"),
    ("ix_loan_base_order_id_prefix", "loan", "base_order_id"),
    ("ix_truv_order_id_prefix", "truv_order", "id"),
]
_SQLITE_HAS = {"ix_loan_loan_id_prefix", "ix_truv_order_id_prefix"}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table, column in _PREFIX:
        if postgres:
            op.create_index(name, table, [sa.text(f'{column} COLLATE "C"')])
        elif name not in _SQLITE_HAS:
            op.create_index(name, table, [column])
    op.create_index("ix_event_at_seq", "event", ["at", "seq"])
    op.create_index("ix_event_kind_at", "event", ["kind", "at", "seq"])


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_event_kind_at", table_name="event")
    op.drop_index("ix_event_at_seq", table_name="event")
    for name, table, _ in reversed(_PREFIX):
        if postgres or name not in _SQLITE_HAS:
            op.drop_index(name, table_name=table)
