"""per-product data dates, the GSE free window, holds, report ids

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import monitor.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_LOAN_TIMES = ("data_as_of_employers", "data_as_of_accounts", "data_as_of_insurance", "gse_window_start", "hold_since")


def upgrade() -> None:
    with op.batch_alter_table("loan", schema=None) as batch_op:
        for name in _LOAN_TIMES:
            batch_op.add_column(sa.Column(name, monitor.store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("original_order_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("hold", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column("hold_reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    with op.batch_alter_table("truv_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voie_report_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("voa_report_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    # Connections used to be kept per newest refresh order; they are now the original's (rule 6), so
    # every loan re-reads its order once and learns its per-product dates from Truv (rule 11).
    op.execute("DELETE FROM loan_connection")
    op.execute("UPDATE loan SET details_fetched_at = NULL")


def downgrade() -> None:
    with op.batch_alter_table("truv_order", schema=None) as batch_op:
        batch_op.drop_column("voa_report_id")
        batch_op.drop_column("voie_report_id")
    with op.batch_alter_table("loan", schema=None) as batch_op:
        batch_op.drop_column("hold_reason")
        batch_op.drop_column("hold")
        batch_op.drop_column("original_order_id")
        for name in reversed(_LOAN_TIMES):
            batch_op.drop_column(name)
