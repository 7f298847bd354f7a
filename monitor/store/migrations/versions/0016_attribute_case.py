"""loan attributes: the value as the loans file spelt it, beside the lower-case one that matching reads

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 20:15:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, and rows imported before keep showing their
    # lower-case value until their next import.
    with op.batch_alter_table("loan_attribute", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shown", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("loan_attribute", schema=None) as batch_op:
        batch_op.drop_column("shown")
