"""income monitoring: reports due, link snapshots, findings

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-30 20:00:00
"""

from datetime import datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import monitor.store.types

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def _s(length: int) -> sa.types.TypeEngine[str]:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts() -> sa.types.TypeEngine[datetime]:
    return monitor.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "report_due",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", _s(128), nullable=False),
        sa.Column("token_hash", _s(64), nullable=False),
        sa.Column("link_id", _s(64), nullable=False),
        sa.Column("product", _s(32), nullable=False),
        sa.Column("policy", _s(128), nullable=False),
        sa.Column("refresh_order_id", _s(64), nullable=False),
        sa.Column("completed_at", _ts(), nullable=False),
        sa.Column("state", _s(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_due_state", "report_due", ["state", "id"])
    op.create_table(
        "link_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", _s(128), nullable=False),
        sa.Column("token_hash", _s(64), nullable=False),
        sa.Column("refresh_order_id", _s(64), nullable=False),
        sa.Column("as_of", _ts(), nullable=False),
        sa.Column("taken_at", _ts(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_link_snapshot_conn", "link_snapshot", ["loan_id", "token_hash", "as_of"])
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", _s(128), nullable=False),
        sa.Column("rule", _s(32), nullable=False),
        sa.Column("severity", _s(16), nullable=False),
        sa.Column("confidence", _s(16), nullable=False),
        sa.Column("employment_id", _s(64), nullable=True),
        sa.Column("field", _s(64), nullable=True),
        sa.Column("before", _s(128), nullable=True),
        sa.Column("after", _s(128), nullable=True),
        sa.Column("order_id", _s(64), nullable=True),
        sa.Column("completed_at", _ts(), nullable=True),
        sa.Column("previous_order_id", _s(64), nullable=True),
        sa.Column("previous_completed_at", _ts(), nullable=True),
        sa.Column("detected_at", _ts(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finding_loan", "finding", ["loan_id", "detected_at"])
    op.create_index("ix_finding_detected", "finding", ["detected_at"])


def downgrade() -> None:
    op.drop_table("finding")
    op.drop_table("link_snapshot")
    op.drop_table("report_due")
