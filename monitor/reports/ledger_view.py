"""`monitor ledger`: reservations, use per token and per GSE loan, and when the next slot frees."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from monitor.app import Services
from monitor.core.budget import GSE_WINDOW, TOKEN_WINDOW, next_free
from monitor.errors import InputError
from monitor.store.db import read_only, session
from monitor.store.ledger import gse_standing
from monitor.store.tables import Connection, Loan, Reservation, ReservationToken, TruvOrder
from monitor.truv.secrets import short


def ledger_view(
    services: Services,
    *,
    loan_id: str | None,
    limit: int,
    now: datetime,
    exhausted: bool = False,
    token: str | None = None,
    since: datetime | None = None,
) -> dict[str, Any]:
    """The ledger; `limit` caps every section, and `totals` / `truncated` say what was left out.

    `exhausted` keeps only tokens and GSE loans at their limit, `token` the reservations and tokens
    whose hash starts with that prefix, `since` the reservations reserved from then on.
    """
    limits = services.limits
    prefix = (token or "").lower()
    with session(read_only(services.engine)) as s:
        if loan_id and s.get(Loan, loan_id) is None:
            raise InputError("loan", loan_id, "no such loan (see monitor loans list)")
        rt = ReservationToken.__table__.c
        q = select(Reservation).order_by(Reservation.reserved_at.desc(), Reservation.id)  # type: ignore[attr-defined]
        if loan_id:
            q = q.where(Reservation.loan_id == loan_id)
        if since is not None:
            q = q.where(Reservation.reserved_at >= since)  # type: ignore[operator]
        if prefix:
            q = q.where(
                Reservation.id.in_(select(rt.reservation_id).where(rt.token_hash.startswith(prefix)))  # type: ignore[attr-defined]
            )
        reservation_total = s.execute(select(func.count()).select_from(q.order_by(None).subquery())).scalar_one()
        reservations = list(s.execute(q.limit(limit)).scalars())
        tq = select(rt.reservation_id, rt.token_hash, rt.reserved_at, rt.counts).where(
            rt.reserved_at > now - TOKEN_WINDOW
        )
        if loan_id:
            tq = tq.where(
                rt.token_hash.in_(
                    select(ReservationToken.token_hash)
                    .join(Reservation, Reservation.id == ReservationToken.reservation_id)  # type: ignore[arg-type]
                    .where(Reservation.loan_id == loan_id)
                )
            )
        token_rows = s.execute(tq).all()
        by_res: dict[str, list[str]] = defaultdict(list)
        for rid, token, _at, _counts in s.execute(
            select(rt.reservation_id, rt.token_hash, rt.reserved_at, rt.counts).where(
                rt.reservation_id.in_([r.id for r in reservations])
            )
        ):
            by_res[rid].append(short(token))
        # Every GSE loan shown, in its own free window (rule 2).
        standing = gse_standing(s, limits=limits, now=now, since=now - 2 * GSE_WINDOW, loan_id=loan_id)
        report_ids = {
            o.id: (o.voie_report_id, o.voa_report_id)
            for o in s.execute(
                select(TruvOrder).where(
                    TruvOrder.id.in_([x.refresh_order_id for x in reservations if x.refresh_order_id])
                )  # type: ignore[attr-defined]
            ).scalars()
        }
        blocked = {
            c.token_hash: c.blocked_until
            for c in s.execute(
                select(Connection).where(Connection.blocked_until.is_not(None), Connection.blocked_until > now)  # type: ignore[union-attr,operator]
            ).scalars()
        }

    token_uses: dict[str, list[datetime]] = defaultdict(list)
    for _rid, token, at, counts in token_rows:
        if counts:
            token_uses[token].append(at)
    tokens = []
    for token, uses in sorted(token_uses.items()):
        if not token.startswith(prefix):
            continue
        frees = next_free(uses, limits.per_token, TOKEN_WINDOW, now)
        tokens.append(
            {
                "token": short(token),
                "used_24h": len(uses),
                "limit": limits.per_token,
                "next_slot_frees": frees or (min(uses) + TOKEN_WINDOW if uses else None),
                "exhausted": frees is not None,
                "truv_blocked_until": blocked.get(token),
            }
        )
    for token, until in blocked.items():
        if token not in token_uses and token.startswith(prefix):
            tokens.append(
                {
                    "token": short(token),
                    "used_24h": 0,
                    "limit": limits.per_token,
                    "next_slot_frees": until,
                    "exhausted": True,
                    "truv_blocked_until": until,
                }
            )
    gse = []
    for lid, terms in sorted(standing.items()):
        gse.append(
            {
                "loan_id": lid,
                "window_start": terms.window_start,
                "window_ends": terms.window_end,
                "in_window": terms.in_window,
                "used_in_window": terms.used,
                "limit": limits.gse,
                "free_left": terms.free_left if terms.in_window else 0,
                # After the window a GSE refresh is billable like any other; inside it, past the
                # limit, `gse_overage` decides.
                "exhausted": terms.in_window and terms.free_left <= 0,
            }
        )
    if exhausted:
        tokens = [t for t in tokens if t["exhausted"]]
        gse = [g for g in gse if g["exhausted"]]
    totals = {"reservations": reservation_total, "tokens": len(tokens), "gse_loans": len(gse)}
    tokens, gse = tokens[:limit], gse[:limit]
    return {
        "now": now,
        "totals": totals,
        "truncated": {
            "reservations": reservation_total > len(reservations),
            "tokens": totals["tokens"] > len(tokens),
            "gse_loans": totals["gse_loans"] > len(gse),
        },
        "reservations": [
            {
                "id": x.id,
                "loan_id": x.loan_id,
                "product": x.product,
                "policy": x.policy,
                "tokens": sorted(by_res.get(x.id, [])),
                "state": x.state,
                "outcome": x.outcome,
                "reserved_at": x.reserved_at,
                "settled_at": x.settled_at,
                "parent_order_id": x.parent_order_id,
                "refresh_order_id": x.refresh_order_id,
                "voie_report_id": report_ids.get(x.refresh_order_id or "", (None, None))[0],
                "voa_report_id": report_ids.get(x.refresh_order_id or "", (None, None))[1],
                "gse": x.gse,
                "billable": x.billable,
                "run_id": x.run_id,
            }
            for x in reservations
        ],
        "tokens": tokens,
        "gse_loans": gse,
    }
