"""Bridge update-mode tokens for connections that need the borrower (`monitor reauth token`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from monitor.app import Services
from monitor.errors import InputError
from monitor.reports.reauth import needing_reauth
from monitor.store import ledger
from monitor.store.db import session
from monitor.store.tables import Loan, TruvOrder

BRIDGE_TOKEN_LIFE = timedelta(hours=6)


def create_tokens(services: Services, *, loan_id: str, product: str) -> list[dict[str, Any]]:
    assert services.client is not None
    now = services.clock.now()
    with session(services.engine) as s:
        loan = s.get(Loan, loan_id)
        base = s.get(TruvOrder, loan.base_order_id) if loan and loan.base_order_id else None
    if loan is None:
        raise InputError("loan", loan_id, "no such loan; see `monitor loans import`")
    rows = needing_reauth(services, now=now, loan_id=loan_id)
    if not rows:
        raise InputError("loan", loan_id, "no connection of this loan needs re-auth (see `monitor reauth list`)")
    if base is None or not base.user_id:
        raise InputError("loan", loan_id, "its order details are unknown; run a pass first")
    out = []
    for row in rows:
        # The access token is read fresh from Truv for this call only: we never keep it.
        access_token = services.client.access_token_for(base.id, row["token_hash"])
        answer = services.client.create_bridge_token(base.user_id, product_type=product, access_token=access_token)
        with session(services.engine) as s:
            ledger.add_event(
                s,
                at=now,
                kind="reauth_token_created",
                loan_id=loan_id,
                token=row["token"],
                reason=row["reason"],
                product=product,
            )
        out.append(
            {
                "loan_id": loan_id,
                "token": row["token"],
                "reason": row["reason"],
                "bridge_token": answer["bridge_token"],
                "expires_at": now + BRIDGE_TOKEN_LIFE,
            }
        )
    return out
