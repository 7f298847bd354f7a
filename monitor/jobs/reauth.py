"""Bridge update-mode tokens for connections that need the borrower (`monitor reauth token`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict

from monitor.core.products import bridge_product
from monitor.errors import InputError
from monitor.services import Services
from monitor.store import ledger, reauth_rows
from monitor.store.audit_details import ReauthTokenCreated
from monitor.store.db import read_only, session
from monitor.truv.secrets import short

BRIDGE_TOKEN_LIFE = timedelta(hours=6)


class ReauthToken(TypedDict):
    """One connection's update-mode token, as `reauth token --json` prints it (shown once, never kept)."""

    loan_id: str
    token: str  # the connection, by its token's short hash
    reason: str | None
    product: str
    bridge_token: str
    expires_at: datetime


def create_tokens(services: Services, *, loan_id: str, product: str | None = None) -> list[ReauthToken]:
    """One update-mode token per connection needing the borrower; `product` None (the default) asks for
    each connection's own product (`assets` for a financial account), as Bridge needs it."""
    now = services.clock.now()
    with session(read_only(services.engine)) as s:
        base = reauth_rows.loan_base(s, loan_id)
        waiting = reauth_rows.needing_reauth(s, loan_id=loan_id) if base is not None else []
    if base is None:
        raise InputError("loan", loan_id, "no such loan; see `monitor loans import`")
    if not waiting:
        raise InputError("loan", loan_id, "no connection of this loan needs re-auth (see `monitor reauth list`)")
    if base.base_order_id is None or not base.user_id:
        raise InputError("loan", loan_id, "its order details are unknown; run a pass first")
    out: list[ReauthToken] = []
    for row in waiting:
        # The access token is read fresh from Truv for this call only: we never keep it.
        access_token = services.client.access_token_for(base.base_order_id, row.token_hash)
        wanted = product or bridge_product(row.kind, row.order_products.split(","))
        bridge_token = services.client.create_bridge_token(base.user_id, product_type=wanted, access_token=access_token)
        with session(services.engine) as s:
            ledger.add_event(
                s,
                at=now,
                kind="reauth_token_created",
                loan_id=loan_id,
                detail=ReauthTokenCreated(token=short(row.token_hash), reason=row.reason, product=wanted),
            )
        out.append(
            {
                "loan_id": loan_id,
                "token": short(row.token_hash),
                "reason": row.reason,
                "product": wanted,
                "bridge_token": bridge_token,
                "expires_at": now + BRIDGE_TOKEN_LIFE,
            }
        )
    return out
