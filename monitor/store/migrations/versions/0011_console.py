"""web console: users and sessions; indexes for the loans and connections that need someone

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 04:30:00
"""

from datetime import datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import monitor.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _s(length: int) -> sa.types.TypeEngine[str]:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts() -> sa.types.TypeEngine[datetime]:
    return monitor.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_user",
        sa.Column("name", _s(128), nullable=False),
        sa.Column("role", _s(16), nullable=False),
        sa.Column("password_hash", _s(256), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("disabled_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "console_session",
        sa.Column("id_hash", _s(64), nullable=False),
        sa.Column("user_name", _s(128), nullable=False),
        sa.Column("csrf", _s(64), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_console_session_user_name", "console_session", ["user_name"])
    op.create_index("ix_console_session_expires_at", "console_session", ["expires_at"])
    op.create_index("ix_loan_status_hold", "loan", ["status", "hold"])
    op.create_index("ix_connection_state", "connection", ["state"])


def downgrade() -> None:
    op.drop_index("ix_connection_state", table_name="connection")
    op.drop_index("ix_loan_status_hold", table_name="loan")
    op.drop_table("console_session")
    op.drop_table("console_user")
