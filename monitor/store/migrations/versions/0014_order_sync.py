"""order list sync: loans found by order id, and the cursor of the last complete walk

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-07 18:30:00
"""

from datetime import datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import monitor.store.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _ts() -> sa.types.TypeEngine[datetime]:
    return monitor.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_index("ix_loan_order", "loan", ["order_id"])
    op.create_index("ix_loan_original_order", "loan", ["original_order_id"])
    op.create_table(
        "order_sync_cursor",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("walk_started_at", _ts(), nullable=False),
        sa.Column("orders_seen", sa.Integer(), nullable=False),
        sa.Column("finished_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("order_sync_cursor")
    op.drop_index("ix_loan_original_order", table_name="loan")
    op.drop_index("ix_loan_order", table_name="loan")
