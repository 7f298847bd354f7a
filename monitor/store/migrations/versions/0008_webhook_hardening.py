"""webhook hardening: whole webhook ids, the reason an event is invalid, no cursor in the future

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 21:00:00
"""

from datetime import timedelta

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import monitor.store.types
from monitor.clock import SystemClock

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# budgets.clock_skew_margin's default: the receiver now refuses an updated_at further ahead than this.
_MARGIN = timedelta(minutes=5)


def upgrade() -> None:
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        # Ids used to be cut at 64 characters, so two long ids could collide; 255 and a longer one is refused.
        batch_op.alter_column(
            "webhook_id",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            type_=sqlmodel.sql.sqltypes.AutoString(length=255),
            existing_nullable=False,
        )
        batch_op.add_column(sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
    # A signed updated_at far in the future used to move its target's cursor there, so every genuine
    # event after it was `stale`. Such a cursor cannot come from a genuine event: forget it.
    cursor = sa.table("webhook_cursor", sa.column("updated_at", monitor.store.types.UTCDateTime(timezone=True)))
    op.execute(cursor.delete().where(cursor.c.updated_at > SystemClock().now() + _MARGIN))


def downgrade() -> None:
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.alter_column(
            "webhook_id",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=255),
            type_=sqlmodel.sql.sqltypes.AutoString(length=64),
            existing_nullable=False,
        )
