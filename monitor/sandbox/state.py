"""`Sandbox`: a deterministic, thread-safe stand-in for Truv's API (see truv-api.md).

`Sandbox.handle(method, path, headers, body)` answers one request; `transport.py` and
`app.py` put it behind httpx and ASGI. Ids come from `random.Random(seed)` and time from
the injected clock, so one seed plus one request sequence always gives the same answers.

Choices where Truv's documents are silent
-----------------------------------------
- The order list (`GET /v1/orders/`): see `order_list.py` (paging, filters, oldest first).
- Check order per request: unknown path or missing trailing slash -> 404
  `{"detail":"Not Found."}` (URL routing comes first, as in Django); bad Accept -> 406
  `not_acceptable`; then auth 401/403; then the rate limit 429; then 405 for a wrong
  method; then injected faults; then the endpoint (a refresh reads its body only once the
  order is found and allowed: see the refresh check order below; 415 otherwise comes first).
- Auth: a missing client id or secret, a secret not in `secrets` (or, when `secrets` is
  None, not starting with `sandbox`), or a client id not in `client_ids` -> 401
  `authentication_failed`. A secret starting with `prod` or `dev` -> 403 `not_authenticated`.
- Rate limit: only requests that passed auth count; a throttled request is not counted.
  The window is (now - 60 s, now] on `clock.monotonic()`; no Retry-After header is sent
  (the docs mention none), only DRF's "Expected available in N seconds." message.
- Bodies: an empty POST body reads as `{}`; a non-empty one needs `Content-Type:
  application/json` and must parse as JSON, else 415 `unsupported_media_type` (the docs say
  a non-JSON body gets 415, so malformed JSON is 415 rather than DRF's 400).
- Refresh: success is 200 with the new Order. Payroll products (income, employment,
  insurance) refresh `employers`, assets/transactions refresh `financial_accounts`; a filter
  item that matches nothing in the order is a 400 even when it names the other group.
  A refresh with nothing to refresh is a 400. An order may mix products (e.g. `[income,
  assets]` with employers and financial accounts); a refresh still touches only its
  product's group and spends budget only for the tokens it touches.
- Refresh the original order only (truv-api.md section 2: "Send a POST request to the
  original order's endpoint"): a POST naming a refresh order (non-null `initial_order`) is
  400 `incorrect_parameters` "Refresh the original order: {id} is a refresh order
  (initial_order {root})", no `extra`, nothing created or spent, journaled with
  `refused: "refresh_of_refresh"` and counted in `refresh_of_refresh_refusals`. A refresh
  order's `initial_order` is the origin order's id; its own `refresh_order` stays null;
  the origin's `refresh_order` names its latest refresh. Filter items (`id` or
  `suborder_number`) name the original order's suborders; the 400 for an `id` of a refresh
  order's suborder says which refresh order it belongs to. Refresh suborders get new ids
  and keep the original's `suborder_number`, `link_id` and `access_token`. The GSE count is
  kept per original order and never refuses anything (GSE limits are billing).
- Check order of a refresh POST, after the request checks above: unknown order 404;
  forbidden 403; body 415; refresh of a refresh order 400; finalized 400; body validation
  400 (with `extra`); a deleted link among the touched connections 400; the per-token
  budget; then the new order. An expired invitation (`is_expired`) is no refusal. Each
  refusal except 404 and the body checks (415, validation) is journaled with `refused`:
  forbidden (also on GET), refresh_of_refresh, order_finalized, link_deleted,
  refresh_limit; `refusal_counts()` counts them.
- Per-token budget: accepted refreshes per access_token in (now - 24 h, now] on
  `clock.now()`, so a refresh exactly 24 h old no longer counts. One refresh spends one unit
  per distinct token it touches (two employers on one link cost one unit). Over the limit:
  message "Refresh limit for the access_token exceeded", no `extra`, nothing created, and
  the refused request does not spend budget. Its status is `refresh_limit_status` (400 by
  default; 403 or 429 to test that a client goes by the message), with the error code
  Truv documents for that status: 400 `incorrect_parameters`, 403 `not_authenticated`,
  429 `throttled` (no Retry-After).
- Refresh outcome: fixed when the refresh is created, from the link's scenario and how
  many refreshes that link had before (`flaky` fails only its first). Employers stay
  `pending` until `completion_delay` seconds later, then become completed/no_data/error; the
  link's status (its last task) changes at the same moment. A failed login_error/mfa_error
  link still accepts refreshes; they fail again until `reconnect_link` (Bridge update mode).
- Seeded (original) orders' employers are `completed`: each seeded suborder has a `done`
  task ending at its data moment (the employer spec's `completed_at`, else the order's,
  else the order's `created_at`; `created_at` defaults to `completed_at`, else now). Neither
  may be after now, and no completion may precede the order's creation. Their links read
  `done`.
- Data dates, as Truv's orders_read example shows them: the ORDER carries `completed_at`
  (ISO, `Z`): the moment every one of its suborders' tasks had reached a terminal status
  with at least one `done`; null while any still runs, and null when none brought data
  (a refresh that failed or came back `no_data` everywhere). For a seeded order that is
  when its data was collected (the latest of its connections' moments: the order's
  `completed_at` when no employer names its own). Suborders carry `created_at` as their
  only timestamp: no suborder `completed_at`, `updated_at` or `finished_at` by default.
  Option `suborder_completed_at=True` (scenario setting `suborder_completed_at: true`)
  adds a suborder `completed_at` (its task's end while `status` reads `completed`, else
  null) so a client's optional refinement can be tested.
- The order's `updated_at` moves for more than data: the latest of its creation, its
  suborders' task ends, its latest refresh (a refresh made from it), its invitation's
  expiry once passed, and its finalization; so an old order that was refreshed reads an
  `updated_at` later than its `completed_at`. Never a data date.
- `oldest_completed_at()` / `data_as_of()` give the truth by the documented shape: each
  connection's data date is the order-level `completed_at` of the order that carried its
  data (the original, or the newest refresh order whose suborder of that suborder_number
  ended `done` and which has a `completed_at`), whatever the suborder's `status` shows.
- `last_task_status`: the status of the suborder's own task once it ended (`done` for a
  seeded one, the refresh task's status for a refresh suborder), null while it runs (no
  intermediate `login`/`parse` steps are modelled). Later tasks on the same link do not
  change it (`GET /v1/links/{id}/` shows those).
- Employer spec `status_style: "sent_with_last_task"` (opt-in; seen in an assets sample):
  the suborder reads `status: "sent"` from creation on, seeded or refreshed, and only
  `last_task_status` tells the outcome; the opt-in suborder `completed_at` is then null (it
  is not `completed`); the order-level `completed_at` still follows the tasks. A refresh
  suborder keeps its original's style. Webhooks are unchanged by the style.
- Report ids: an order whose products include income or employment has a
  `voie_report_id`, one with assets a `voa_report_id` (others null; transactions and
  insurance get none). A refresh order has only its product's, new. Ids are drawn when the
  order is made, from `random.Random("sandbox-reports:SEED")` (so no other id changed), and
  shown once a suborder of that group (employers for VOIE, financial accounts for VOA) has
  data (task `done`); null before, and for a refresh that failed.
- 403 per resource: an order seeded `forbidden: true` (or `forbid_order`) answers every GET
  and refresh POST on it, and on its refresh orders, with 403 `not_authenticated`
  "Credentials are valid but do not have permission to access this resource". Its links
  are still readable. The prod/dev-secret 403 for every request is separate.
- Finalized (`finalize_order`, seeded `finalized`, or `finalize_at_refresh: N`, which
  finalizes an original order when its Nth refresh order is created, that refresh still
  running to its end): a refresh POST is 400 `incorrect_parameters` "The order is
  finalized: no further data collection or refresh for order {id}". Finalizing sends
  `order-finalized` at that moment with the common and order fields only (`order_id`,
  `order_number`, `updated_at`, `template_id`): Truv lists `employer_id`, `link_id`,
  `product`, `data_source` and `status` only for order-created, order-status-updated and
  order-refresh-failed. The order JSON has no
  finalized field (none is documented); GET still works. Seeded states send no webhook.
- Expiry is the borrower invitation's (truv-api.md section 3): every order, original or
  refresh, whatever its status, has `expired_at` = its `created_at` + 72 h ("Date and time
  when order would expire": shown before it passes too) and `is_expired` true from that
  moment on. `expire_order` and seeded `expired: true` (now) or a timestamp only set the
  expiry earlier (never later than the 72 h). An expired invitation refuses nothing: a
  refresh of a completed order whose invitation expired is created as usual. No webhook;
  its suborders keep their status and data. `canceled_at` is always null (cancelling is
  not modelled).
- Deleted link (`delete_link`, or employer spec `link_deleted: true` at seeding, no webhook
  then): sends `link-deleted` (link_id, product = the link's last refreshed product or its
  first allowed one, data_source, tracking_info null); `GET /v1/links/{id}/` still answers
  200 with `deleted_at` set (the Link object documents `deleted_at`); a refresh touching
  that connection is 400 "The link was deleted: {link_id} cannot be refreshed; the borrower
  must connect again" (a filter leaving it out is fine); orders keep showing the employer
  with its `link_id` and `access_token`; `reconnect_link` and Bridge update-mode tokens
  refuse it.
- Insurance: `insurance[]` items are not modelled; an insurance product refreshes employers.
- `POST /v1/users/{id}/tokens/` answers 200; `product_type` must be a Bridge product
  (income, employment, assets, insurance, transactions, deposit_switch, pll, admin).
- The journal records every API request (admin `/_sandbox/` calls are not journaled);
  a fault is noted as `fault`, and a dropped or slow answer keeps the status it would have had.

Link reports and scripted changes (truv-api.md section 9; `employment.py`, `reports.py`)
--------------------------------------------------------------------------------------
- `GET /v1/links/{id}/income/report/` (VOIE) and `.../employment/report/` (VOE): the same
  request checks as every API request (routing 404, 406, auth, 429, 405, faults of the
  "other" kind: 5xx, 429, malformed, slow; the 404 fault is for order GETs only), journaled.
  An unknown link, a deleted one (`deleted_at` reached) or a financial-account link (no
  payroll report) -> 404 `{"detail":"Not Found."}`. A forbidden order's links answer as
  usual (403 is per order). `Sandbox.link_report(link_id, product)` gives the same JSON
  without a request.
- Top level: `id` (per link, product and data version: the same data read twice has the
  same id, a newer completed task a new one; from `random.Random("sandbox-link-report:SEED:
  LINK:PRODUCT:COMPLETED_AT")`), `status` (the last finished task's status: `done`, or e.g.
  `login_error`, `unavailable`, `no_data` after a failed refresh; a running refresh does not
  show), `completed_at` (the link's newest task that ended `done`: the data's moment),
  `finished_at` (the last finished task, any status), `access_token` (the link's full token,
  as Truv returns it; clients must not store it), `tracking_info` null, `is_suspicious`
  false, `provider` "truv_payroll", `data_source` "payroll", `employments[]`.
- The data is the newest `done` task's (seeded, refresh or `reconnect_link`); a refresh
  that failed or came back `no_data` leaves the previous data (and changes `status`).
- Employments: one line per employer suborder, keyed by link and suborder_number (refresh
  suborders share their original's; an employer seeded on another order through the same
  link with another suborder_number is another employment of that link's report). Order:
  by seeding, then by employment number. Fields: `id`, `is_active`, `start_date`,
  `end_date` (null while active), `original_hire_date`, `company{name (the spec's company),
  address{street, city, state, zip}, phone (10 digits), ein ("NN-NNNNNNN")}`, `job_title`,
  `job_type` ("F"), `income` + `income_unit` ("YEARLY"), `pay_rate` (income / 26, to the
  cent) + `pay_frequency` ("BW"), `derived_fields` ([]), `missing_data_fields` ([]),
  `statements[]`. The employment report sets income, income_unit, pay_rate and
  pay_frequency to null (Truv: "Null for employment product") and has no `statements`.
- Data is a pure function of the seed, the line and the link's refresh moments: every
  employment's id and data come from `random.Random("sandbox-employment:SEED:LINK:
  SUBORDER_NUMBER:N")` (N = 0 for the seeded job, then 1, 2... for jobs an employer_change
  or rehire starts; the id is its first draw), so reading reports changes no other id.
  Income 40,000 to 150,000 in steps of 500; start 400 to 4000 days before the data's first
  collection; tax 18-30 % (net = gross minus it, per stub, to the cent).
- Pay stubs: every 14 days on a seeded phase, the pay date at most the data's date (UTC);
  a new job's first more than 7 days after its start. A statement: `id` (from
  `random.Random("sandbox-statement:SEED:EMPLOYMENT_ID:PAY_DATE")`), `pay_date`,
  `period_end` (5 days before the pay date), `period_start` (a period back), `gross_pay`
  = `regular` (the pay rate then), `net_pay`, `gross_pay_ytd` / `net_pay_ytd` (sums of that
  calendar year's stubs), `hours` ("80.00"; "40.00" weekly), `basis_of_pay` "S"; money as
  strings like "2692.31". The report lists the latest 6, newest first. The stub count (for
  `statements-updated`) counts from 364 days before the line's first collection (26 then),
  or from a new job's start.
- Scripted changes: `EmployerSpec.changes` (also `changes` in `add_order` employer
  mappings and scenario files) is one mapping or a list: `{"at_refresh": N, KIND: true}`
  or `{"at_refresh": N, "pay_cut": "15%"}` (also "0.15" or 0.15; 0 < cut < 1). Exactly one
  kind per mapping, at most one change per refresh, unknown keys -> ValueError naming them
  and the employer; after job_loss or derived_inactive only employer_change or rehire; a
  job_type_change or pay_frequency_change once per employer (again after an
  employer_change). Financial accounts take none. `Sandbox.script_changes(link_id, changes,
  suborder_number=)` adds them after seeding; an at_refresh must be after the link's
  refreshes so far. Another order seeding the same link and suborder_number must not
  script different ones.
- A change happens when the link's Nth refresh task (1-based; one per link per refresh,
  failed ones count) completes, and shows in every report whose data is at least that
  recent; after a failed Nth refresh it shows at the next successful one. With D the date
  of that completion and P the date of the link's previous refresh (refresh N-1, or the
  first collection for N = 1): `job_loss` is_active false, end_date D-1, no stubs after it;
  `pay_cut` income scaled by (1 - cut) (pay_rate follows), stubs paid after D at the new
  rate; `employer_change` the job ends as for job_loss and a new employment starts on D
  (new id, company from a fixed list other than the old, new EIN and address, income 0-10 %
  above the old, BW, F, no stub before its first pay date); `missed_pay` no stub after P
  (the latest pay_date stays where refresh N-1 saw it; a 1.5 x 14 + 3 day rule sees it at
  refresh N only when refresh N is more than 24 days after that pay date);
  `derived_inactive` is_active false, derived_fields ["is_active"], no end_date, no stub
  after P; `rehire` the job (unless already ended) ends on D-15 and a new employment of the
  same company and EIN starts on D-1 (at least a day after the old end), keeping the
  original_hire_date, title, job type, income and pay phase; `job_type_change` job_type P;
  `pay_frequency_change` pay_frequency W, pay_rate income / 52 (income unchanged), weekly
  stubs from the last bi-weekly pay date on D or before, 40 hours; `hours_cut` stubs paid
  after P report 30 % fewer hours (same pay); `leave` stubs paid after P carry an earnings
  line "Leave of absence" (every stub has one earnings line, "Regular" otherwise);
  `second_job` a new employment as for employer_change while the job goes on. A change after
  an employer_change, rehire or second_job applies to the new employment. An ended job shows no stub after
  its end_date, even one a refresh inside those days had shown.
- `Sandbox.scripted_changes()` lists every change: order_id, link_id, suborder_number,
  company, employment_id (the one it changes), new_employment_id (employer_change / rehire),
  at_refresh, kind, pay_cut, effective_at (when that refresh completes; None before it
  exists). Admin: `GET /_sandbox/scripted-changes/`. `generate_portfolio(scripted_changes=)`
  scripts them on a portfolio (scenario.py).

Webhooks (truv-api.md section 4; built in `webhooks.py`, taken with `due_webhooks()`)
------------------------------------------------------------------------------------
- Events are scheduled when the change is decided (the refresh request, `reconnect_link`)
  and become due at the moment it happens on `clock.now()`: a refresh's at its tasks'
  `finishes_at`. Every event of one change has that moment as `updated_at` (written
  `+00:00`, as the docs' example) and as `event_created_at` (written `Z`), except the
  Account Link events (link-connected, link-disconnected, link-deleted), which carry no
  `updated_at` (Truv documents none for them): order them by `event_created_at`.
- Order events carry `employer_id` (the suborder's id) on order-status-updated and
  order-refresh-failed, as the reference example does; order-finalized has none (Truv's
  order-created has it null; the data-refresh guide's shorter example leaves it out, so
  clients must accept null or absent).
- Per finished refresh task (one per link): `task-status-updated` (new `task_id`, final
  status only, no intermediate `login`/`parse` steps); then per suborder of that task
  `order-status-updated` (`completed` or `no_data`); a refresh order with a failed task
  gets exactly one `order-refresh-failed` (not one per suborder), at its first failing
  task's end, with that task's failure status (e.g. `unavailable`, `login_error`) and the
  first failing suborder's `employer_id`, `link_id`, `product`, `data_source`; then
  `link-disconnected` once per link for login_error / mfa_error / account_locked; for `done`, per suborder `employment-updated`
  (employers) or `bank-accounts-updated` (financial accounts, `object_id` instead of
  `employment_id`). The employment id is the link report's (below): stable per link and
  suborder_number across refreshes. For an employer, `employment-updated` goes out on every
  `done` refresh for the suborder's current employment (as before the reports existed,
  though Truv sends it only when data changed), plus one, first, for an employment that
  refresh's data changed and superseded (employer_change / rehire: the old job ended); its
  `objects_count` is the number of employments the link's report lists then. Then
  `statements-updated` (`employment_id`, `objects_count` = that employment's pay stubs)
  for each employment whose stub count changed since the link's previous data (Truv: "the
  pay stub count went from 31 to 32"), so refreshes less than a pay period apart send none.
  `bank-accounts-updated` keeps its old count: 26 per link, plus one per completed refresh.
- Those added events (statements-updated, the superseded employment's employment-updated)
  draw webhook ids and duplicate rolls from their own RNGs (`sandbox-webhooks-data:SEED`),
  so every other webhook keeps the id it had before; the employment id the webhook RNG used
  to draw is still drawn (and unused). Only `webhook_reorder`'s shuffle of a batch holding
  such events differs.
- `reconnect_link` emits `link-connected` then `task-status-updated` `done` (the docs say
  a Bridge update ends with that webhook); `product` is the link's last refreshed product.
- `finalize_order` (or the `finalize_at_refresh` trigger) emits `order-finalized` and
  `delete_link` emits `link-deleted`, both due at once; seeded finalized orders and deleted
  links emit nothing. Expiry emits nothing.
- `tracking_info` and `template_id` are always null; `user_id` is always set.
- `webhook_id` and the other webhook ids come from `random.Random("sandbox-webhooks:SEED")`,
  not the API's RNG, so turning webhooks on or polling them changes no API id. Events are
  kept until taken, whether or not anyone polls.
- Faults: `webhook_duplicates` is the share of events sent twice (same bytes and
  webhook_id, the copy right after); `webhook_reorder` shuffles each batch with a seeded
  RNG, and reverses it instead when the shuffle changed nothing or kept the changes in
  time order, so a batch spanning two changes always delivers an older event after a
  newer one. Both use their own RNG; the duplicate copy follows its original even then.
- Signature: `X-WEBHOOK-SIGN: v1=<hex HMAC-SHA256 of the body>` keyed with
  `webhook_secret` (Truv uses the access secret; here it is explicit), absent when None.
- `WebhookPump` retries a failed delivery up to 5 tries in all with a 0.1 s doubling
  backoff (Truv's schedule is not documented) and then drops it; every try is in
  `webhook_log()`, not in the API journal.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.clock import Clock, FixedClock, SystemClock
from monitor.sandbox import lifecycle, wire
from monitor.sandbox.api import Api, ApiRequest
from monitor.sandbox.assets import parse_asset_changes
from monitor.sandbox.data_dates import data_as_of, oldest_completed_at
from monitor.sandbox.employer_spec import EmployerSpec
from monitor.sandbox.faults import Faults
from monitor.sandbox.journal import Journal
from monitor.sandbox.link_report_shapes import LinkReportJson
from monitor.sandbox.model import iso
from monitor.sandbox.order_shapes import LinkJson, OrderJson
from monitor.sandbox.ratelimit import RefreshBudget, RequestLimiter
from monitor.sandbox.refresh_requests import REFRESH_LIMIT_CODES
from monitor.sandbox.report_lookup import find_link_report
from monitor.sandbox.reports import REPORT_PRODUCTS
from monitor.sandbox.request_settings import RequestSettings
from monitor.sandbox.scripted_listing import ScriptedChangeJson, script_changes, scripted_changes
from monitor.sandbox.seeding import OrderRequest, check_finalize_at_refresh, seed_order
from monitor.sandbox.webhook_delivery import Webhook
from monitor.sandbox.world import World

__all__ = ["REFRESH_LIMIT_CODES", "Sandbox"]


class Sandbox:
    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        requests_per_minute: int = 300,
        refresh_limit_per_token: int = 3,
        refresh_limit_status: int = 400,
        finalize_at_refresh: int | None = None,
        completion_delay: float = 5.0,
        secrets: tuple[str, ...] | None = None,
        faults: Faults | None = None,
        client_ids: tuple[str, ...] | None = None,
        journal_path: str | Path | None = None,
        webhook_secret: str | None = None,
        webhook_duplicates: float = 0.0,
        webhook_reorder: bool = False,
        webhook_url: str | None = None,
        suborder_completed_at: bool = False,
    ) -> None:
        _check_settings(webhook_duplicates, refresh_limit_status, finalize_at_refresh, suborder_completed_at)
        self.refresh_limit_status = refresh_limit_status
        # Opt-in: suborders also show a `completed_at` (Truv documents none; off by default).
        self.suborder_completed_at = suborder_completed_at
        self.finalize_at_refresh = finalize_at_refresh
        self.clock: Clock = clock or SystemClock()
        self.completion_delay = completion_delay
        self.faults = faults or Faults()
        # One lock for everything: requests are short, and a single order of events is
        # what makes the journal a trustworthy oracle.
        self._lock = threading.RLock()
        self._world = World.new(seed)
        limiter, budget = RequestLimiter(requests_per_minute), RefreshBudget(refresh_limit_per_token)
        self._api = Api(self._world, limiter, budget, secrets, client_ids)
        self._journal = Journal(journal_path)
        self.webhook_secret = webhook_secret
        self.webhook_duplicates = webhook_duplicates
        self.webhook_reorder = webhook_reorder
        # Where `serve` delivers webhooks when it is given no url of its own.
        self.webhook_url = webhook_url
        self._webhook_log = Journal()

    def _settings(self) -> RequestSettings:
        return RequestSettings(
            self.completion_delay, self.finalize_at_refresh, self.refresh_limit_status, self.suborder_completed_at
        )

    def _order_json(self, order_id: str, now: datetime) -> OrderJson:
        return self._settings().order_json(self._world.orders[order_id], now)

    # ---- ids and inspection -------------------------------------------------------

    def new_id(self) -> str:
        """32 lowercase hex characters, like Truv's ids."""
        with self._lock:
            return self._world.new_id()

    def journal(self) -> list[dict[str, object]]:
        with self._lock:
            return self._journal.entries()

    def refreshes(self) -> list[dict[str, object]]:
        """Journal entries of refreshes that created an order (including dropped answers)."""
        return [e for e in self.journal() if e.get("created_order_id")]

    def root_refresh_counts(self) -> dict[str, int]:
        """Refresh orders created per root order: what GSE billing would count."""
        with self._lock:
            return dict(self._world.root_refreshes)

    @property
    def refresh_of_refresh_refusals(self) -> int:
        """Refresh POSTs refused because they named a refresh order instead of the original."""
        with self._lock:
            return self._world.refusals["refresh_of_refresh"]

    def refusal_counts(self) -> dict[str, int]:
        """Journaled refusals by their `refused` reason: refresh_of_refresh, order_finalized,
        link_deleted, refresh_limit, forbidden."""
        with self._lock:
            return dict(self._world.refusals)

    def oldest_completed_at(self) -> dict[str, str | None]:
        """Per original (root) order: its order-level `completed_at` as the order JSON shows it
        now (when its data was collected), ISO with `Z`; None if it has none. This is how old
        each loan's data is by Truv's documented dates before any refresh."""
        with self._lock:
            return oldest_completed_at(self._world, self.clock.now())

    def data_as_of(self, order_id: str) -> str | None:
        """How old the loan's data is now, refreshes included, by the documented shape (data_dates.py);
        None if no connection has data."""
        with self._lock:
            return data_as_of(self._world, order_id, self.clock.now())

    # ---- link reports and scripted changes (truv-api.md section 9) ---------------------

    def link_report(self, link_id: str, product: str = "income") -> LinkReportJson:
        """The link's report as `GET /v1/links/{id}/{product}/report/` would show it now, without
        a request; `product` is income or employment. KeyError for a link without one."""
        if product not in REPORT_PRODUCTS:
            raise ValueError(f"product: expected one of {', '.join(REPORT_PRODUCTS)}, got {product!r}")
        with self._lock:
            report = find_link_report(self._world, link_id, product, self.clock.now())
            if report is None:
                raise KeyError(link_id)
            return report

    def script_asset_changes(self, link_id: str, changes: object) -> None:
        """Scripted changes of a financial-account link's accounts (sandbox/assets.py), from its
        `at_refresh`th refresh on; each at_refresh must be after the link's refreshes so far."""
        added = parse_asset_changes(changes)
        with self._lock:
            link = self._world.links[link_id]
            if link.kind != "financial_account":
                raise ValueError(f"link {link_id} is not a financial account's")
            if any(c.at_refresh <= len(link.refresh_tasks) for c in added):
                raise ValueError(f"link {link_id} had {len(link.refresh_tasks)} refreshes: script later ones")
            self._world.asset_changes[link_id] = (*self._world.asset_changes.get(link_id, ()), *added)

    def scripted_changes(self) -> list[ScriptedChangeJson]:
        """Every scripted change, in seeding order: order_id (the order that seeded the employer),
        link_id, suborder_number, company, employment_id (the employment it changes),
        new_employment_id (the employment employer_change / rehire starts, else None),
        at_refresh, kind, pay_cut (the fraction as a string, else None) and effective_at (when
        the link's at_refresh-th refresh completes, ISO `Z`; None until that refresh exists)."""
        with self._lock:
            return scripted_changes(self._world)

    def script_changes(
        self, link_id: str, changes: object, *, suborder_number: str | None = None
    ) -> list[ScriptedChangeJson]:
        """Add scripted changes to an employer already seeded (e.g. by `generate_portfolio`):
        `changes` as in an employer spec; `suborder_number` picks the employer when the link has
        several. Every at_refresh must be after the link's refreshes so far; the line's changes
        (old and new) are validated together. Returns the line's `scripted_changes()` entries."""
        with self._lock:
            return script_changes(self._world, link_id, changes, suborder_number)

    def order(self, order_id: str) -> OrderJson:
        """An order as `GET /v1/orders/{id}/` would show it now, without a request."""
        with self._lock:
            return self._order_json(order_id, self.clock.now())

    def link(self, link_id: str) -> LinkJson:
        with self._lock:
            return self._world.links[link_id].to_json(self.clock.now())

    def reconnect_link(self, link_id: str) -> None:
        """The borrower re-authenticated in Bridge update mode: later refreshes succeed."""
        with self._lock:
            lifecycle.reconnect_link(self._world, link_id, self.clock.now())

    # ---- the end of an order's or a connection's life (truv-api.md section 10) -----

    def finalize_order(self, order_id: str) -> OrderJson:
        """Truv finalized the order: `order-finalized` now; later refresh POSTs to it get 400.

        Idempotent: an order already finalized keeps its moment and sends no second webhook.
        Refresh tasks already running still finish."""
        with self._lock:
            now = self.clock.now()
            return self._settings().order_json(lifecycle.finalize(self._world, order_id, now), now)

    def expire_order(self, order_id: str) -> OrderJson:
        """The borrower invitation expired now (earlier than its 72 h): `is_expired: true`,
        `expired_at` now. Refreshes still work (the invitation is not the data). No webhook;
        idempotent (an invitation already expired keeps its moment)."""
        with self._lock:
            now = self.clock.now()
            return self._settings().order_json(lifecycle.expire(self._world, order_id, now), now)

    def remind(self, order_id: str) -> OrderJson:
        """A reminder (or an edit) now: the order's `updated_at` moves, its data does not (truv-api.md
        section 3: `updated_at` is never a data date). No webhook."""
        with self._lock:
            now = self.clock.now()
            self._world.orders[order_id].touched_at = now
            return self._order_json(order_id, now)

    def delete_link(self, link_id: str) -> LinkJson:
        """The connection was deleted now: `link-deleted`; `deleted_at` on the link; a refresh
        touching it gets 400. Orders keep showing their employer. Idempotent."""
        with self._lock:
            now = self.clock.now()
            return lifecycle.delete_link(self._world, link_id, now).to_json(now)

    def forbid_order(self, order_id: str, forbidden: bool = True) -> OrderJson:
        """Make every GET/POST on the order (and, for an original, its refresh orders) a 403."""
        with self._lock:
            self._world.orders[order_id].forbidden = forbidden
            return self._order_json(order_id, self.clock.now())

    # ---- webhooks -----------------------------------------------------------------

    def due_webhooks(self) -> list[Webhook]:
        """Webhooks whose moment has come on `clock.now()` and were not returned before."""
        with self._lock:
            return self._world.outbox.due(
                self.clock.now(),
                secret=self.webhook_secret,
                duplicates=self.webhook_duplicates,
                reorder=self.webhook_reorder,
            )

    def log_webhook_attempt(self, entry: Mapping[str, object]) -> None:
        """Record one delivery attempt (the pump calls this); `at` is the sandbox's now."""
        with self._lock:
            self._webhook_log.append({"at": iso(self.clock.now()), **entry})

    def webhook_log(self) -> list[dict[str, object]]:
        """Every webhook delivery attempt, in order: webhook_id, attempt, status, error..."""
        with self._lock:
            return self._webhook_log.entries()

    def advance_clock(self, seconds: float) -> datetime:
        """Move a FixedClock forward (both wall and monotonic time); other clocks refuse."""
        if not isinstance(self.clock, FixedClock):
            raise TypeError("only a sandbox built with a FixedClock can be advanced")
        if seconds < 0:
            raise ValueError(f"seconds: expected >= 0, got {seconds!r}")
        with self._lock:
            self.clock.advance(seconds)
            return self.clock.now()

    def close(self) -> None:
        with self._lock:
            self._journal.close()

    # ---- seeding ------------------------------------------------------------------

    def add_order(
        self,
        *,
        order_id: str | None = None,
        user_id: str | None = None,
        order_number: str | None = None,
        products: Sequence[str] = ("income",),
        employers: Sequence[EmployerSpec | Mapping[str, Any]] | None = None,
        financial_accounts: Sequence[EmployerSpec | Mapping[str, Any]] = (),
        created_at: datetime | str | None = None,
        completed_at: datetime | str | None = None,
        first_name: str = "John",
        last_name: str = "Doe",
        forbidden: bool = False,
        finalized: bool | datetime | str = False,
        expired: bool | datetime | str = False,
        finalize_at_refresh: int | None = None,
    ) -> OrderJson:
        """Seed a completed original order; `employers=None` means one employer with scenario ok
        (`employers=[]` means none: an assets order with financial accounts only).

        Data dates: `completed_at` (when its connections' data was collected; an employer's
        own `completed_at` wins) defaults to `created_at`, and `created_at` defaults to
        `completed_at`, else now. Neither may be after now, nor a completion before creation.
        `forbidden`: every request on it (and its refresh orders) gets 403. `finalized` /
        `expired`: True (at now) or a timestamp; seeded states send no webhook.
        `finalize_at_refresh`: finalize it when its Nth refresh order is created (overrides
        the sandbox's setting).
        """
        request = OrderRequest(
            order_id,
            user_id,
            order_number,
            products,
            employers,
            financial_accounts,
            created_at,
            completed_at,
            first_name,
            last_name,
            forbidden,
            finalized,
            expired,
            finalize_at_refresh,
        )
        with self._lock:
            now = self.clock.now()
            order = seed_order(self._world, request, now)
            return self._order_json(order.id, now)

    # ---- requests -----------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes, query: str = "") -> wire.Response:
        """Answer one API request (`query`: the URL's query string) and journal it (front.py sends the admin
        paths elsewhere)."""
        lowered = {key.lower(): value for key, value in headers.items()}
        with self._lock:
            now = self.clock.now()
            request = ApiRequest(method.upper(), path, lowered, body, query, now, self.clock.monotonic)
            entry: dict[str, object] = {"at": iso(now), "method": request.method, "path": path}
            if query:
                entry["query"] = query
            response = self._api.answer(request, self.faults, self._settings(), entry)
            self._journal.append({**entry, "status": response.status})
            return response


def _check_settings(
    webhook_duplicates: float, refresh_limit_status: int, finalize_at_refresh: int | None, suborder_completed_at: bool
) -> None:
    if not 0.0 <= webhook_duplicates <= 1.0:
        raise ValueError(f"webhook_duplicates: expected a rate between 0 and 1, got {webhook_duplicates!r}")
    if isinstance(refresh_limit_status, bool) or refresh_limit_status not in REFRESH_LIMIT_CODES:
        allowed = ", ".join(map(str, REFRESH_LIMIT_CODES))
        raise ValueError(f"refresh_limit_status: expected one of {allowed}, got {refresh_limit_status!r}")
    check_finalize_at_refresh(finalize_at_refresh)
    if not isinstance(suborder_completed_at, bool):
        raise ValueError(f"suborder_completed_at: expected true or false, got {suborder_completed_at!r}")
