"""findings: an operator's disposition (acknowledged, resolved) with the note, who and when

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 19:00:00
"""

from datetime import datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import monitor.store.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _s(length: int) -> sa.types.TypeEngine[str]:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts() -> sa.types.TypeEngine[datetime]:
    return monitor.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disposition", _s(16), nullable=False, server_default="open"))
        batch_op.add_column(sa.Column("disposition_note", _s(500), nullable=True))
        batch_op.add_column(sa.Column("disposition_by", _s(128), nullable=True))
        batch_op.add_column(sa.Column("disposition_at", _ts(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_column("disposition_at")
        batch_op.drop_column("disposition_by")
        batch_op.drop_column("disposition_note")
        batch_op.drop_column("disposition")
