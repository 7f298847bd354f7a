"""`monitor ledger`: reservations, use per token and per GSE loan, and when the next slot frees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.core.budget import GSE_WINDOW, TOKEN_WINDOW, GseTerms, Limits, TokenUsage
from monitor.errors import InputError
from monitor.reports.ledger_shapes import GseLoanRow, LedgerView, ReservationView, TokenRow
from monitor.services import Context
from monitor.store import ledger_rows, usage
from monitor.store.db import read_only, session
from monitor.store.ledger_rows import NO_REPORT_IDS, ReportIds, ReservationPage, ReservationRow
from monitor.truv.secrets import short


@dataclass(frozen=True, slots=True)
class _Read:
    """What one read of the ledger holds: a page of reservations, what they spent on, the usage."""

    page: ReservationPage
    spent_on: dict[str, list[str]]
    report_ids: dict[str, ReportIds]
    uses: dict[str, list[datetime]]
    blocked: dict[str, datetime]
    standing: dict[str, GseTerms]


def ledger_view(
    services: Context,
    *,
    loan_id: str | None,
    limit: int,
    now: datetime,
    exhausted: bool = False,
    token: str | None = None,
    since: datetime | None = None,
    offset: int = 0,
) -> LedgerView:
    """The ledger; `limit` caps every section, and `totals` / `truncated` say what was left out;
    the reservations start at the `offset`-th (the console's pages).

    `exhausted` keeps only tokens and GSE loans at their limit, `token` the reservations and tokens
    whose hash starts with that prefix, `since` the reservations reserved from then on.
    """
    limits = services.limits
    prefix = (token or "").lower()
    read = _read(services, loan_id=loan_id, limit=limit, offset=offset, since=since, prefix=prefix, now=now)
    tokens = _tokens(read.uses, read.blocked, prefix=prefix, limits=limits, now=now)
    gse = [_gse_loan(lid, terms, limits) for lid, terms in sorted(read.standing.items())]
    if exhausted:
        tokens = [t for t in tokens if t["exhausted"]]
        gse = [g for g in gse if g["exhausted"]]
    page = read.page
    return {
        "now": now,
        "totals": {"reservations": page.total, "tokens": len(tokens), "gse_loans": len(gse)},
        "truncated": {
            "reservations": page.total > len(page.rows),
            "tokens": len(tokens) > limit,
            "gse_loans": len(gse) > limit,
        },
        "reservations": [_reservation(x, read) for x in page.rows],
        "tokens": tokens[:limit],
        "gse_loans": gse[:limit],
    }


def _read(
    services: Context,
    *,
    loan_id: str | None,
    limit: int,
    offset: int,
    since: datetime | None,
    prefix: str,
    now: datetime,
) -> _Read:
    with session(read_only(services.engine)) as s:
        if loan_id and not ledger_rows.loan_exists(s, loan_id):
            raise InputError("loan", loan_id, "no such loan (see monitor loans list)")
        page = ledger_rows.reservations(
            s, limit=limit, offset=offset, loan_id=loan_id, since=since, token_prefix=prefix
        )
        return _Read(
            page=page,
            spent_on=ledger_rows.tokens_of(s, [x.id for x in page.rows]),
            report_ids=ledger_rows.report_ids(s, [x.refresh_order_id for x in page.rows]),
            # The same rows the pass decides on (rule 1), a Truv block included.
            uses=usage.token_uses(s, now=now, loan_id=loan_id or None),
            blocked=usage.truv_blocks(s, now=now, loan_id=loan_id or None),
            # Every GSE loan shown, in its own free window (rule 2).
            standing=usage.gse_standing(
                s, limits=services.limits, now=now, since=now - 2 * GSE_WINDOW, loan_id=loan_id
            ),
        )


def _tokens(
    uses: dict[str, list[datetime]], blocked: dict[str, datetime], *, prefix: str, limits: Limits, now: datetime
) -> list[TokenRow]:
    """Tokens with use in their window, then tokens only Truv blocks; each judged as the pass would."""
    order = sorted(uses) + sorted(t for t in blocked if t not in uses)
    return [_token(TokenUsage(t, uses.get(t, []), blocked.get(t)), limits, now) for t in order if t.startswith(prefix)]


def _token(use: TokenUsage, limits: Limits, now: datetime) -> TokenRow:
    frees = usage.token_frees_at(use, limits, now)
    return {
        "token": short(use.token_hash),
        "used_24h": len(use.uses),
        "limit": limits.per_token,
        "next_slot_frees": frees or (min(use.uses) + TOKEN_WINDOW if use.uses else None),
        "exhausted": frees is not None,
        "truv_blocked_until": use.blocked_until,
    }


def _gse_loan(loan_id: str, terms: GseTerms, limits: Limits) -> GseLoanRow:
    return {
        "loan_id": loan_id,
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


def _reservation(x: ReservationRow, read: _Read) -> ReservationView:
    tokens = read.spent_on.get(x.id, [])
    ids = read.report_ids.get(x.refresh_order_id or "", NO_REPORT_IDS)
    return {
        "id": x.id,
        "loan_id": x.loan_id,
        "product": x.product,
        "policy": x.policy,
        "tokens": sorted(short(t) for t in tokens),
        "state": x.state,
        "outcome": x.outcome,
        "reserved_at": x.reserved_at,
        "settled_at": x.settled_at,
        "parent_order_id": x.parent_order_id,
        "refresh_order_id": x.refresh_order_id,
        "voie_report_id": ids.voie,
        "voa_report_id": ids.voa,
        "gse": x.gse,
        "billable": x.billable,
        "run_id": x.run_id,
    }
