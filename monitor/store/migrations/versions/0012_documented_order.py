"""Truv's documented order: undo what the wrong notes did to the ledger and the loans

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 15:30:00

- `is_expired` is the borrower invitation's expiry, not the end of an order (truv-api.md section 3):
  loans set aside as `order_expired` are released and their orders read again.
- A refresh Truv refused outright made no order and spent nothing (DESIGN.md rule 15): such
  reservations, recorded as `refused` before, become `declined` and stop counting. Truv's own
  per-token limit answer (`truv_refresh_limit`) and 429s (`throttled`) stay `refused`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_OUTRIGHT = ("truv_refused", "forbidden", "order_not_found", "auth_failed", "order_expired", "order_finalized")


def upgrade() -> None:
    loan = sa.table(
        "loan",
        sa.column("hold", sa.String),
        sa.column("hold_reason", sa.String),
        sa.column("hold_since", sa.DateTime),
        sa.column("details_fetched_at", sa.DateTime),
    )
    op.execute(
        loan.update()
        .where(loan.c.hold_reason == "order_expired")
        .values(hold=None, hold_reason=None, hold_since=None, details_fetched_at=None)
    )
    reservation = sa.table(
        "reservation", sa.column("id", sa.String), sa.column("state", sa.String), sa.column("outcome", sa.String)
    )
    op.execute(
        reservation.update()
        .where(reservation.c.state == "refused", reservation.c.outcome.in_(_OUTRIGHT))
        .values(state="declined")
    )
    token = sa.table("reservation_token", sa.column("reservation_id", sa.String), sa.column("counts", sa.Boolean))
    declined = sa.select(reservation.c.id).where(reservation.c.state == "declined")
    op.execute(token.update().where(token.c.reservation_id.in_(declined)).values(counts=False))


def downgrade() -> None:
    # The old reading was wrong; nothing to restore.
    pass
