"""The compliance report's exceptions: what a person must look at, read from the period's rows."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from monitor.core.readable import duration_text
from monitor.core.states import ConnectionState, SkipReason
from monitor.reports.exception_shapes import Backlog, BacklogLoan, Blocked, PersistentSkip, SetAside, Waiting
from monitor.reports.loan_shapes import LoanListRow
from monitor.store.report_rows import ConnectionWait, PeriodRows
from monitor.truv.secrets import short

BUDGET_REASONS = (
    SkipReason.TOKEN_BUDGET,
    SkipReason.GSE_BUDGET,
    SkipReason.BILLABLE_CAP,
    SkipReason.TRUV_REFRESH_LIMIT,
)
# Skips that no later pass ends by itself: someone must change the policy, the order or the loan.
PERSISTENT_REASONS = (SkipReason.PRODUCT_NOT_ALLOWED, SkipReason.MANUAL_REVIEW, SkipReason.FORBIDDEN)
NOT_REACHED = "not_reached"  # stale, and no pass said why: max_refreshes ran out first, or no pass ran


def _refreshed_after(rows: PeriodRows, loan_id: str | None, at: datetime) -> bool:
    return loan_id in rows.last and rows.last[loan_id].at > at


def blocked(rows: PeriodRows) -> list[Blocked]:
    """Loans whose last word in the period was a budget's no, and not refreshed since."""
    last_word: dict[str | None, Blocked] = {}
    for entry in rows.skips:
        d = json.loads(entry.detail)
        if d.get("reason") not in BUDGET_REASONS:
            last_word.pop(entry.loan_id, None)
            continue
        last_word[entry.loan_id] = {
            "loan_id": entry.loan_id,
            "rule": d["reason"],
            "at": entry.at,
            "next_eligible": d.get("next_free_at"),
            "policy": d.get("policy"),
        }
    # Refreshed after it was blocked: no longer an exception.
    return [b for loan_id, b in last_word.items() if not _refreshed_after(rows, loan_id, b["at"])]


def backlog(stale: list[LoanListRow], rows: PeriodRows) -> Backlog:
    """Active loans stale now (for a policy they match) that no refresh reached in the period, by why: the
    hold that keeps them out, else the last reason a pass gave, else `not_reached` (no pass said: the job's
    max_refreshes ran out before them, or no pass ran)."""
    loans: list[BacklogLoan] = [
        {
            "loan_id": r["loan_id"],
            "policies": r["stale_for"],
            "reason": r["hold_reason"] or r["hold"] or r["last_skip_reason"] or NOT_REACHED,
            "data_as_of": r["data_as_of"],
        }
        for r in stale
        if r["status"] == "active" and r["loan_id"] not in rows.refreshed
    ]
    by_reason = Counter(x["reason"] for x in loans)
    return {
        "total": len(loans),
        "by_reason": dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
        "loans": loans,
    }


def persistent(rows: PeriodRows) -> list[PersistentSkip]:
    """Loans a pass skipped for a reason no later pass ends by itself, not refreshed since: how often, since when."""
    seen: dict[str, PersistentSkip] = {}
    for entry in rows.skips:
        d = json.loads(entry.detail) if entry.loan_id is not None else {}
        if entry.loan_id is None or d.get("reason") not in PERSISTENT_REASONS:
            continue
        x = seen.setdefault(
            entry.loan_id,
            {"loan_id": entry.loan_id, "times": 0, "first": entry.at, "reason": "", "policy": None, "last": entry.at},
        )
        x["reason"], x["policy"], x["last"], x["times"] = d["reason"], d.get("policy"), entry.at, x["times"] + 1
    return [x for loan_id, x in sorted(seen.items()) if not _refreshed_after(rows, loan_id, x["last"])]


def needs_reauth(waiting: list[ConnectionWait], now: datetime) -> list[Waiting]:
    out: list[Waiting] = []
    for w in waiting:
        seconds = (now - w.since).total_seconds() if w.since else None
        out.append(
            {
                "loan_id": w.loan_id,
                "connection": short(w.token_hash),
                "reason": w.reason,
                "since": w.since,
                "waiting_seconds": seconds,
                "waiting": duration_text(seconds),  # "5 h", "2.3 d": a fraction of a day never reads 0.0
            }
        )
    return out


def set_aside(rows: PeriodRows) -> list[SetAside]:
    held: list[SetAside] = [
        {"loan_id": h.loan_id, "needs": h.hold, "reason": h.reason, "since": h.since} for h in rows.holds
    ]
    return held + [
        {
            "loan_id": w.loan_id,
            "needs": ConnectionState.NEEDS_NEW_ORDER.value,
            "reason": f"{w.reason} ({short(w.token_hash)})",
            "since": w.since,
        }
        for w in rows.deleted
    ]
