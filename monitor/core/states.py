"""The words the job stores and reports: connection, reservation, webhook, run and report states, loan
holds, and the reasons a loan is skipped.

Each value is the exact string written to the database, the audit trail and `run --json`; a StrEnum
compares equal to that string, so code still holding a literal agrees with code using the member.
The README's skip-reason table lists `SkipReason` member for member (tests/unit/test_states.py).
"""

from __future__ import annotations

from enum import StrEnum


class ConnectionState(StrEnum):
    """`connection.state`: one borrower connection (one access token), shared by every loan using it."""

    # Refreshable. Also what a completed refresh, `link-connected` or a `done` task sets again.
    OK = "ok"
    # login_error, mfa_error, account_locked, unable_to_reset, or `link-disconnected`: only the borrower
    # can fix it (Bridge update mode); no refresh on the token until then.
    NEEDS_REAUTH = "needs_reauth"
    # unavailable or error: the provider's side; `retry_after` backs off 6 h, 12 h, 24 h ... 72 h.
    RETRY_LATER = "retry_later"
    # no_data, not_supported, config_error, canceled, expired, skipped or a status we do not know:
    # retrying would spend budget for nothing, so a person decides.
    MANUAL_REVIEW = "manual_review"
    # `link-deleted`: Truv removed the connection; only a new order brings it back.
    NEEDS_NEW_ORDER = "needs_new_order"


class ReservationState(StrEnum):
    """`reservation.state`: the write-ahead ledger (DESIGN.md rules 3, 4 and 15).

    Every state but `declined` and `released` counts against its budget windows: the request may have
    made a refresh at Truv.
    """

    # Written, with the budget check, before the POST leaves.
    RESERVED = "reserved"
    # Named by the schema, the in-flight set and reconciliation; no code path writes it today (the
    # send time goes to `sent_at` while the row stays `reserved`).
    SENT = "sent"
    # Truv answered with a refresh order (or reconciliation found it): settled by a poll or a webhook.
    ACCEPTED = "accepted"
    # Every suborder of the refresh order completed.
    COMPLETED = "completed"
    # The refresh order settled with a suborder not completed, or Truv lost it (404 for over a day).
    FAILED = "failed"
    # The POST timed out or lost its connection: reconciled through the original order, never resent.
    UNKNOWN = "unknown"
    # Reconciliation found no refresh after the grace period: the loan may be tried again, the use counts.
    LOST = "lost"
    # Truv answered for the request but may have counted it: its own per-token limit, or 429 past every
    # retry. Counts until its window passes.
    REFUSED = "refused"
    # Truv refused it outright (a 4xx with an error body, 401, 403, 404): no order was made, so it spent
    # nothing (DESIGN.md rule 15) and stops counting against the token, the GSE window and the billable cap.
    DECLINED = "declined"
    # The request provably never left (connection refused): it stops counting.
    RELEASED = "released"


class WebhookState(StrEnum):
    """`webhook_event.state`: every webhook is stored before it is acknowledged (DESIGN.md rule 9)."""

    # Stored, not applied yet (also left so when the database failed while applying: retried later).
    RECEIVED = "received"
    APPLIED = "applied"
    # Older (`updated_at`) than what was already applied to the same target: kept, not applied.
    STALE = "stale"
    # Names an order, suborder or link we do not know; a refresh answer recorded later re-applies it.
    UNMATCHED = "unmatched"
    # Kept for the record only: a data-changed hint, or `order-finalized` of a refresh order.
    RECORDED = "recorded"
    # A type the job does not act on.
    IGNORED = "ignored"
    # Breaks the schema, or applying it raised: never applied; `reason` says which field and rule.
    INVALID = "invalid"


class WebhookAnswer(StrEnum):
    """What storing or applying an event can answer besides a `WebhookState`; never stored."""

    # The `webhook_id` is stored already: one more delivery is counted, nothing else happens.
    DUPLICATE = "duplicate"
    # The database failed part way through `apply_pending`: the rest stay `received` for next time.
    DEFERRED = "deferred"
    # The row asked for is gone (purged between listing and applying).
    MISSING = "missing"


class RunState(StrEnum):
    """`run.status` and the `status` of `run --json`."""

    # Written when the pass starts; a row still `running` after its lease expired was killed.
    RUNNING = "running"
    FINISHED = "finished"
    # SIGTERM / SIGINT: in-flight requests finished and were recorded, the lease released.
    STOPPED = "stopped"
    # Truv refused the credentials (401, 403 on everything), the database failed, or a bug.
    FAILED = "failed"
    # `truv.max_consecutive_failures` connection failures in a row: nothing more was sent.
    TRUV_UNREACHABLE = "truv_unreachable"
    # Another pass of the job holds its lease: normal for overlapping cron. In the summary only:
    # such a pass writes no run row.
    LEASE_HELD = "lease_held"


class ReportState(StrEnum):
    """`report_due.state`: a completed refresh whose link report monitoring must read (rule 14)."""

    DUE = "due"
    READ = "read"
    # Gave up after the last attempt.
    FAILED = "failed"


class LoanHold(StrEnum):
    """`loan.hold`: a loan set aside until someone acts (rule 13); `hold_reason` is a `SkipReason`."""

    # A 403 on its order, or refreshes Truv refused three times in a row: a person must look.
    MANUAL_REVIEW = "manual_review"
    # Finalized or canceled order: only importing a new order_id for the loan starts it again.
    NEEDS_NEW_ORDER = "needs_new_order"


class SkipReason(StrEnum):
    """Why a pass did not refresh a stale loan: the keys of `skipped` in `run --json`, the `reason` of
    `skipped` audit entries, `loans show` and `loans list --reason`."""

    # -- budgets (DESIGN.md rules 1 and 2); the audit entry carries `next_free_at` --
    # Every stale connection's token had its 3 refreshes in the rolling 24 h, or Truv refused it for its
    # limit within the day. Nothing to do: the loan is eligible again when a token frees.
    TOKEN_BUDGET = "token_budget"
    # A GSE loan used its 5 free re-verifications inside its 90-day window and `gse_overage` is `block`.
    # Wait for the window to end (then billable), or set `gse_overage: paid`.
    GSE_BUDGET = "gse_budget"
    # `budgets.billable_per_day` billable refreshes in the rolling 24 h. Wait, or raise the cap.
    BILLABLE_CAP = "billable_cap"
    # Truv refused with "Refresh limit for the access_token exceeded": refreshes made outside monitor
    # count there too. The token is treated as spent for 24 h; look for refreshes sent elsewhere.
    TRUV_REFRESH_LIMIT = "truv_refresh_limit"
    # A refresh of this loan is reserved, accepted or unknown: one at a time. It settles by itself.
    IN_FLIGHT = "in_flight"
    # The budget check was given no token. Selection skips such a loan as `no_connection` first, so a
    # pass should not show it; if it does, treat it as `no_connection`.
    NO_CONNECTIONS = "no_connections"
    # A budget said no without naming its rule. Defensive label only; never expected (report it).
    BUDGET = "budget"
    # -- the product's connections (rules 5 and 10) --
    # The stale connections need the borrower (login, MFA, locked account, link disconnected).
    # Hand off: `monitor reauth list`, `monitor reauth token LOAN_ID`.
    NEEDS_REAUTH = "needs_reauth"
    # The stale connections' last refresh ended with nothing to retry (no_data, not_supported,
    # config_error, an unknown status). A person decides; a new order may be needed.
    MANUAL_REVIEW = "manual_review"
    # Provider-side failure backing off (6 h ... 72 h), or a loan told to wait (a 404 or a refusal, for a
    # day). Nothing to do: it is retried when the backoff ends.
    RETRY_BACKOFF = "retry_backoff"
    # A stale connection was deleted (`link-deleted`). Import a new order for the loan.
    NEEDS_NEW_ORDER = "needs_new_order"
    # The order has no connection of the policy's product. Check the policy's product against the order.
    NO_CONNECTION = "no_connection"
    # The order has connections of the product but none ever completed (`expired`, `canceled`,
    # `skipped`, `no_data`, still `pending`): there is nothing to refresh. The order is read again after
    # a day; the borrower may need a new order or invitation.
    NEVER_VERIFIED = "never_verified"
    # The order cannot be refreshed as the policy's product (an employment order as income). A later
    # policy of the job may fit it; otherwise fix the policy's `match` or `product`.
    PRODUCT_NOT_ALLOWED = "product_not_allowed"
    # -- loans set aside (rule 13): `loan.hold`, listed by `monitor reauth list` --
    # Counted at selection: loans already set aside for one of the reasons below.
    ON_HOLD = "on_hold"
    # Truv answered 403 for this loan's order (hold `manual_review`). Check the order belongs to this
    # key's environment; importing the loan again with the right order_id starts it afresh.
    FORBIDDEN = "forbidden"
    # `order-finalized`, or a refusal naming it: no refresh of that order will ever work
    # (hold `needs_new_order`). Import a new order for the loan.
    ORDER_FINALIZED = "order_finalized"
    # A refresh was refused and the order, read once after it, shows `canceled_at` (hold
    # `needs_new_order`). Import a new order for the loan. (`is_expired` is only the borrower
    # invitation's expiry and never sets a loan aside.)
    ORDER_CANCELED = "order_canceled"
    # Truv answered 404 for the loan's order; retried after 24 h. Check the imported order_id.
    ORDER_NOT_FOUND = "order_not_found"
    # An operator held the loan (`monitor loans hold LOAN_ID --reason TEXT`, hold `manual_review`); the
    # reason is in `loans show`. `monitor loans release LOAN_ID` lets the next pass take it.
    OPERATOR_HOLD = "operator_hold"
    # The loan or its original order was not on record after its order was read (changed mid-pass).
    # Nothing to do: the next pass reads it again.
    DETAILS_UNKNOWN = "details_unknown"
    # -- Truv's answer to this loan's request --
    # Reading the order failed (5xx, timeout, an unreadable answer) before anything was spent.
    # Nothing to do: the next pass tries again.
    TRUV_UNAVAILABLE = "truv_unavailable"
    # Truv refused the refresh outright (a 4xx, no order made, nothing spent); retried after 1 day, then
    # 3 days, then set aside for manual review (hold `manual_review`) with Truv's last message. The audit
    # detail and `loans show` say what Truv answered.
    TRUV_REFUSED = "truv_refused"
    # 429 past every retry: not processed, but it reached Truv, so its reservation still counts.
    # Lower `truv.requests_per_minute` or find what else uses the secret.
    THROTTLED = "throttled"
    # The refresh provably never left (connection refused): its reservation was released.
    # Check the network to Truv if it repeats.
    NOT_SENT = "not_sent"
    # -- the pass --
    # The job's `max_refreshes` for this pass was reached. The next pass goes on; raise it if needed.
    MAX_REFRESHES = "max_refreshes"
    # An unexpected error on this loan only (the audit entry holds it); the pass went on. Read the entry.
    ERROR = "error"
