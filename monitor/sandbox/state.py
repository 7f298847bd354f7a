"""`Sandbox`: a deterministic, thread-safe stand-in for Truv's API (see truv-api.md).

`Sandbox.handle(method, path, headers, body)` answers one request; `transport.py` and
`app.py` put it behind httpx and ASGI. Ids come from `random.Random(seed)` and time from
the injected clock, so one seed plus one request sequence always gives the same answers.

Choices where Truv's documents are silent
-----------------------------------------
- Check order per request: unknown path or missing trailing slash -> 404
  `{"detail":"Not Found."}` (URL routing comes first, as in Django); bad Accept -> 406
  `not_acceptable`; then auth 401/403; then the rate limit 429; then 405 for a wrong
  method; then injected faults; then the body (415) and the endpoint itself.
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
  A refresh with nothing to refresh is a 400.
- Per-token budget: accepted refreshes per access_token in (now - 24 h, now] on
  `clock.now()`, so a refresh exactly 24 h old no longer counts. One refresh spends one unit
  per distinct token it touches (two employers on one link cost one unit). Over the limit:
  400 `incorrect_parameters`, message "Refresh limit for the access_token exceeded", no
  `extra`, nothing created, and the refused request does not spend budget.
- Refresh outcome: fixed when the refresh is created, from the link's scenario and how
  many refreshes that link had before (`flaky` fails only its first). Employers stay
  `pending` until `completion_delay` seconds later, then become completed/no_data/error; the
  link's status (its last task) changes at the same moment. A failed login_error/mfa_error
  link still accepts refreshes; they fail again until `reconnect_link` (Bridge update mode).
- Refreshing a refresh order is allowed: `initial_order` is its direct parent; the GSE
  count is kept per root order and never refuses anything (GSE limits are billing).
- Seeded (root) orders' employers are `completed` and their links `done`.
- `POST /v1/users/{id}/tokens/` answers 200; `product_type` must be a Bridge product
  (income, employment, assets, insurance, transactions, deposit_switch, pll, admin).
- The journal records every API request (admin `/_sandbox/` calls are not journaled);
  a fault is noted as `fault`, and a dropped or slow answer keeps the status it would have had.

Webhooks (truv-api.md section 4; built in `webhooks.py`, taken with `due_webhooks()`)
------------------------------------------------------------------------------------
- Events are scheduled when the change is decided (the refresh request, `reconnect_link`)
  and become due at the moment it happens on `clock.now()`: a refresh's at its tasks'
  `finishes_at`. Every event of one change has that moment as `updated_at` (written
  `+00:00`, as the docs' example) and as `event_created_at` (written `Z`).
- Per finished refresh task (one per link): `task-status-updated` (new `task_id`, final
  status only, no intermediate `login`/`parse` steps); then per suborder of that task
  `order-status-updated` (`completed` or `no_data`) or `order-refresh-failed` (the task's
  failure status, e.g. `unavailable`, `login_error`); then `link-disconnected` once for
  login_error / mfa_error / account_locked; for `done`, per suborder `employment-updated`
  (employers) or `bank-accounts-updated` (financial accounts, `object_id` instead of
  `employment_id`). The employment id is stable per link and suborder_number across
  refreshes; `objects_count` starts at 26 per link and grows by one per completed refresh.
- `reconnect_link` emits `link-connected` then `task-status-updated` `done` (the docs say
  a Bridge update ends with that webhook); `product` is the link's last refreshed product.
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

import json
import random
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.clock import Clock, FixedClock, SystemClock
from monitor.sandbox import wire
from monitor.sandbox.faults import Faults, RequestKind
from monitor.sandbox.journal import Journal, token_hash
from monitor.sandbox.model import (
    PRODUCTS,
    EmployerSpec,
    Kind,
    Link,
    Order,
    Suborder,
    Task,
    iso,
    parse_time,
    task_outcome,
)
from monitor.sandbox.ratelimit import RefreshBudget, RequestLimiter, wait_message
from monitor.sandbox.refresh import RefreshPlan, plan_refresh
from monitor.sandbox.webhooks import Webhook, WebhookOutbox

BRIDGE_PRODUCTS = (*PRODUCTS, "deposit_switch", "pll", "admin")
REFRESH_LIMIT_MESSAGE = "Refresh limit for the access_token exceeded"

_ROUTES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = (
    (re.compile(r"/v1/orders/([^/]+)/"), {"GET": "order_get", "POST": "refresh"}),
    (re.compile(r"/v1/links/([^/]+)/"), {"GET": "link_get"}),
    (re.compile(r"/v1/users/([^/]+)/tokens/"), {"POST": "tokens"}),
)


class Sandbox:
    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        requests_per_minute: int = 300,
        refresh_limit_per_token: int = 3,
        completion_delay: float = 5.0,
        secrets: tuple[str, ...] | None = None,
        faults: Faults | None = None,
        client_ids: tuple[str, ...] | None = None,
        journal_path: str | Path | None = None,
        webhook_secret: str | None = None,
        webhook_duplicates: float = 0.0,
        webhook_reorder: bool = False,
        webhook_url: str | None = None,
    ) -> None:
        if not 0.0 <= webhook_duplicates <= 1.0:
            raise ValueError(f"webhook_duplicates: expected a rate between 0 and 1, got {webhook_duplicates!r}")
        self.clock: Clock = clock or SystemClock()
        self.completion_delay = completion_delay
        self.faults = faults or Faults()
        self._secrets = secrets
        self._client_ids = client_ids
        self._rng = random.Random(seed)
        # One lock for everything: requests are short, and a single order of events is
        # what makes the journal a trustworthy oracle.
        self._lock = threading.RLock()
        self._orders: dict[str, Order] = {}
        self._links: dict[str, Link] = {}
        self._links_by_token: dict[str, Link] = {}
        self._users: set[str] = set()
        self._requests = RequestLimiter(requests_per_minute)
        self._budget = RefreshBudget(refresh_limit_per_token)
        self._root_refreshes: Counter[str] = Counter()
        self._journal = Journal(journal_path)
        self.webhook_secret = webhook_secret
        self.webhook_duplicates = webhook_duplicates
        self.webhook_reorder = webhook_reorder
        # Where `serve` delivers webhooks when it is given no url of its own.
        self.webhook_url = webhook_url
        self._outbox = WebhookOutbox(seed)
        self._webhook_log = Journal()

    # ---- ids and inspection -------------------------------------------------------

    def new_id(self) -> str:
        """32 lowercase hex characters, like Truv's ids."""
        with self._lock:
            return f"{self._rng.getrandbits(128):032x}"

    def journal(self) -> list[dict[str, Any]]:
        with self._lock:
            return self._journal.entries()

    def refreshes(self) -> list[dict[str, Any]]:
        """Journal entries of refreshes that created an order (including dropped answers)."""
        return [e for e in self.journal() if e.get("created_order_id")]

    def root_refresh_counts(self) -> dict[str, int]:
        """Refresh orders created per root order: what GSE billing would count."""
        with self._lock:
            return dict(self._root_refreshes)

    def order(self, order_id: str) -> dict[str, Any]:
        """An order as `GET /v1/orders/{id}/` would show it now, without a request."""
        with self._lock:
            return self._orders[order_id].to_json(self.clock.now())

    def link(self, link_id: str) -> dict[str, Any]:
        with self._lock:
            return self._links[link_id].to_json(self.clock.now())

    def reconnect_link(self, link_id: str) -> None:
        """The borrower re-authenticated in Bridge update mode: later refreshes succeed."""
        with self._lock:
            link = self._links[link_id]
            link.scenario = "ok"
            now = self.clock.now()
            link.tasks.append(Task(finishes_at=now, status="done"))
            self._outbox.link_connected(link, now)

    # ---- webhooks -----------------------------------------------------------------

    def due_webhooks(self) -> list[Webhook]:
        """Webhooks whose moment has come on `clock.now()` and were not returned before."""
        with self._lock:
            return self._outbox.due(
                self.clock.now(),
                secret=self.webhook_secret,
                duplicates=self.webhook_duplicates,
                reorder=self.webhook_reorder,
            )

    def pending_webhooks(self) -> int:
        """Events scheduled but not yet returned by `due_webhooks` (due or not)."""
        with self._lock:
            return self._outbox.pending()

    def log_webhook_attempt(self, entry: Mapping[str, Any]) -> None:
        """Record one delivery attempt (the pump calls this); `at` is the sandbox's now."""
        with self._lock:
            self._webhook_log.append({"at": iso(self.clock.now()), **entry})

    def webhook_log(self) -> list[dict[str, Any]]:
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
        first_name: str = "John",
        last_name: str = "Doe",
    ) -> dict[str, Any]:
        """Seed a completed root order; `employers=None` means one employer with scenario ok."""
        employer_specs = [_spec(e, f"employers[{i}]") for i, e in enumerate(employers or [EmployerSpec()])]
        account_specs = [_spec(a, f"financial_accounts[{i}]") for i, a in enumerate(financial_accounts)]
        _check_products(products)
        with self._lock:
            if order_id is not None and order_id in self._orders:
                raise ValueError(f"order_id: {order_id!r} already exists")
            moment = parse_time(created_at) if created_at is not None else self.clock.now()
            user_id = self._owner(user_id, [*employer_specs, *account_specs])
            order = Order(
                id=order_id or self.new_id(),
                products=tuple(products),
                order_number=order_number,
                user_id=user_id,
                first_name=first_name,
                last_name=last_name,
                created_at=moment,
                root_id="",
            )
            order.root_id = order.id
            order.employers = [self._seed_suborder(s, user_id, "employer", moment) for s in employer_specs]
            order.financial_accounts = [
                self._seed_suborder(s, user_id, "financial_account", moment) for s in account_specs
            ]
            self._orders[order.id] = order
            self._users.add(user_id)
            return order.to_json(self.clock.now())

    def _owner(self, user_id: str | None, specs: list[EmployerSpec]) -> str:
        """The order's user: given, else the owner of a link it reuses, else a new id."""
        for spec in specs:
            link = self._find_link(spec)
            if link is None:
                continue
            if user_id is not None and link.user_id != user_id:
                raise ValueError(f"link {link.id} belongs to user {link.user_id}, not {user_id}")
            user_id = link.user_id
        return user_id or self.new_id()

    def _find_link(self, spec: EmployerSpec) -> Link | None:
        by_token = self._links_by_token.get(spec.access_token) if spec.access_token else None
        by_id = self._links.get(spec.link_id) if spec.link_id else None
        if by_token and by_id and by_token is not by_id:
            raise ValueError(f"access_token and link_id {spec.link_id} name two different links")
        return by_token or by_id

    def _seed_suborder(self, spec: EmployerSpec, user_id: str, kind: Kind, moment: datetime) -> Suborder:
        link = self._find_link(spec)
        if link is None:
            link = Link(
                id=spec.link_id or self.new_id(),
                access_token=spec.access_token or self.new_id(),
                user_id=user_id,
                scenario=spec.scenario,
                kind=kind,
                created_at=moment,
            )
            self._links[link.id] = link
            self._links_by_token[link.access_token] = link
        elif link.scenario != spec.scenario or link.kind != kind:
            raise ValueError(
                f"link {link.id} is a {link.kind} link with scenario {link.scenario}; "
                f"employers sharing it must agree (got {kind}, {spec.scenario})"
            )
        return Suborder(
            id=spec.id or self.new_id(),
            suborder_number=spec.suborder_number or self.new_id(),
            link=link,
            company=spec.company,
            kind=kind,
            created_at=moment,
        )

    # ---- requests -----------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> wire.Response:
        """Answer one request; every API request is journaled, admin ones are not."""
        method = method.upper()
        lowered = {key.lower(): value for key, value in headers.items()}
        if path.startswith("/_sandbox/"):
            from monitor.sandbox.admin import handle_admin

            return handle_admin(self, method, path, body)
        with self._lock:
            now = self.clock.now()
            entry: dict[str, Any] = {"at": iso(now), "method": method, "path": path}
            response = self._answer(method, path, lowered, body, now, entry)
            self._journal.append({**entry, "status": response.status})
            return response

    def _answer(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        now: datetime,
        entry: dict[str, Any],
    ) -> wire.Response:
        route = _route(path)
        if route is None:
            return wire.not_found()
        methods, resource_id = route
        if not _accepts_json(headers.get("accept")):
            return wire.error(406, "not_acceptable", "Could not satisfy the request Accept header.")
        secret = self._authenticate(headers)
        if isinstance(secret, wire.Response):
            return secret
        wait = self._requests.try_acquire(secret, self.clock.monotonic())
        if wait is not None:
            return wire.error(429, "throttled", wait_message(wait))
        if method not in methods:
            return wire.method_not_allowed(method)
        endpoint = methods[method]
        kind: RequestKind = "order_get" if endpoint == "order_get" else "refresh" if endpoint == "refresh" else "other"
        refused = self.faults.before(kind)
        if refused is not None:
            entry["fault"] = refused[1]
            return refused[0]
        response = self._dispatch(endpoint, resource_id, headers, body, now, entry)
        response, fault = self.faults.after(kind, response)
        if fault is not None:
            entry["fault"] = fault
        return response

    def _authenticate(self, headers: dict[str, str]) -> str | wire.Response:
        client_id = headers.get("x-access-client-id", "")
        secret = headers.get("x-access-secret", "")
        if not client_id or not secret:
            return wire.error(401, "authentication_failed", "Authentication credentials were not provided.")
        if secret.startswith(("prod", "dev")):
            env = "production" if secret.startswith("prod") else "development"
            return wire.error(403, "not_authenticated", f"A {env} secret cannot be used in the sandbox.")
        known = secret in self._secrets if self._secrets is not None else secret.startswith("sandbox")
        if not known or (self._client_ids is not None and client_id not in self._client_ids):
            return wire.error(401, "authentication_failed", "Invalid client id or secret.")
        return secret

    def _dispatch(
        self,
        endpoint: str,
        resource_id: str,
        headers: dict[str, str],
        body: bytes,
        now: datetime,
        entry: dict[str, Any],
    ) -> wire.Response:
        if endpoint == "order_get":
            order = self._orders.get(resource_id)
            return wire.json_response(200, order.to_json(now)) if order else wire.not_found()
        if endpoint == "link_get":
            link = self._links.get(resource_id)
            return wire.json_response(200, link.to_json(now)) if link else wire.not_found()
        payload = _parse_body(headers, body)
        if isinstance(payload, wire.Response):
            return payload
        if endpoint == "refresh":
            return self._refresh(resource_id, payload, now, entry)
        return self._bridge_token(resource_id, payload)

    def _refresh(self, order_id: str, body: Any, now: datetime, entry: dict[str, Any]) -> wire.Response:
        entry.update(parent_order_id=order_id, created_order_id=None, product=None, token_hashes=[])
        parent = self._orders.get(order_id)
        if parent is None:
            return wire.not_found()
        plan = plan_refresh(parent, body)
        if isinstance(plan, wire.Response):
            return plan
        tokens = plan.tokens()
        entry.update(product=plan.product, token_hashes=[token_hash(t) for t in tokens])
        if self._budget.exhausted(tokens, now):
            return wire.error(400, "incorrect_parameters", REFRESH_LIMIT_MESSAGE)
        child = self._create_refresh_order(parent, plan, now)
        self._budget.record(tokens, now)
        entry["created_order_id"] = child.id
        return wire.json_response(200, child.to_json(now))

    def _create_refresh_order(self, parent: Order, plan: RefreshPlan, now: datetime) -> Order:
        child = Order(
            id=self.new_id(),
            products=(plan.product,),
            order_number=parent.order_number,
            user_id=parent.user_id,
            first_name=parent.first_name,
            last_name=parent.last_name,
            created_at=now,
            root_id=parent.root_id,
            initial_order=parent.id,
        )
        finishes_at = now + timedelta(seconds=self.completion_delay)
        tasks: dict[str, Task] = {}  # one task per link, even when employers share it
        for old in plan.suborders:
            link = old.link
            if link.id not in tasks:
                tasks[link.id] = Task(finishes_at, task_outcome(link.scenario, link.refresh_attempts))
                link.refresh_attempts += 1
                link.tasks.append(tasks[link.id])
            new = Suborder(
                id=self.new_id(),
                suborder_number=old.suborder_number,
                link=link,
                company=old.company,
                kind=old.kind,
                created_at=now,
                task=tasks[link.id],
            )
            (child.employers if old.kind == "employer" else child.financial_accounts).append(new)
        parent.refresh_order = child.id
        parent.touched_at = now
        self._orders[child.id] = child
        self._root_refreshes[parent.root_id] += 1
        self._outbox.refresh_created(child, plan.product)
        return child

    def _bridge_token(self, user_id: str, body: Any) -> wire.Response:
        if user_id not in self._users:
            return wire.not_found()
        if not isinstance(body, dict):
            return wire.bad_request(
                "Invalid parameters.",
                [{"field": "non_field_errors", "message": "Expected a JSON object."}],
            )
        product_type = body.get("product_type")
        if product_type not in BRIDGE_PRODUCTS:
            message = "This field is required." if product_type is None else f"Unknown product_type {product_type!r}."
            return wire.bad_request("Invalid parameters.", [{"field": "product_type", "message": message}])
        access_token = body.get("access_token")
        if access_token is not None:
            link = self._links_by_token.get(access_token) if isinstance(access_token, str) else None
            if link is None or link.user_id != user_id:
                invalid = [
                    {
                        "field": "access_token",
                        "message": "No link of this user has that access_token.",
                    }
                ]
                return wire.bad_request("Invalid parameters.", invalid)
        return wire.json_response(
            200,
            {
                "bridge_token": self.new_id(),
                "tracking_info": body.get("tracking_info"),
                "client_name": body.get("client_name", "Sandbox Client"),
                "product_type": product_type,
                "allowed_products": body.get("allowed_products"),
                "company_mapping_id": body.get("company_mapping_id"),
                "access_token": access_token,
            },
        )


def _spec(value: EmployerSpec | Mapping[str, Any], where: str) -> EmployerSpec:
    return value if isinstance(value, EmployerSpec) else EmployerSpec.from_mapping(value, where)


def _check_products(products: Sequence[str]) -> None:
    if isinstance(products, str) or not products or any(p not in PRODUCTS for p in products):
        raise ValueError(f"products: expected a non-empty list from {', '.join(PRODUCTS)}, got {products!r}")


def _route(path: str) -> tuple[dict[str, str], str] | None:
    for pattern, methods in _ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return methods, match.group(1)
    return None


def _accepts_json(accept: str | None) -> bool:
    if accept is None or not accept.strip():
        return True
    ranges = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(ranges & {"application/json", "application/*", "*/*"})


def _parse_body(headers: dict[str, str], body: bytes) -> Any:
    if not body.strip():
        return {}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return wire.error(415, "unsupported_media_type", f'Unsupported media type "{content_type}" in request.')
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return wire.error(415, "unsupported_media_type", "The request body is not valid JSON.")
