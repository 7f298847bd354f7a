"""The sandbox's pure parts (README "The sandbox and the choices where Truv's documents are silent";
truv-api.md sections 2, 5, 6 and 7): rate windows, the per-token refresh budget, DRF's throttle wording,
Truv's error bodies, task -> suborder statuses, scenario parsing; and that what the sandbox writes is what
monitor's wire parser reads. Injected clocks only; no HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from monitor.sandbox import wire
from monitor.sandbox.employer_changes import CHANGE_KINDS, EmployerChange, parse_changes
from monitor.sandbox.employer_spec import EmployerSpec
from monitor.sandbox.faults import Faults
from monitor.sandbox.model import SCENARIOS, Link, Order, Suborder, Task, iso, parse_time, suborder_status, task_outcome
from monitor.sandbox.ratelimit import RefreshBudget, RequestLimiter, wait_message
from monitor.truv import wire as truv_wire
from monitor.truv.client import retry_after_seconds
from monitor.truv.secrets import token_hash

T0 = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
TERMINAL = (
    "done",
    "login_error",
    "mfa_error",
    "config_error",
    "account_locked",
    "unable_to_reset",
    "no_data",
    "unavailable",
    "error",
    "not_supported",
)

# -- requests per minute per secret: a sliding 60 s window ---------------------------------------------


@pytest.mark.parametrize(
    ("hits", "at", "expected"),
    [
        pytest.param([], 0.0, None, id="first"),
        pytest.param([0.0, 1.0], 2.0, None, id="under-limit"),
        pytest.param([0.0, 1.0, 2.0], 3.0, 57.0, id="at-limit-waits-for-the-oldest"),
        pytest.param([0.0, 1.0, 2.0], 59.999, pytest.approx(0.001), id="just-before-the-oldest-leaves"),
        pytest.param([0.0, 1.0, 2.0], 60.0, None, id="the-oldest-left-exactly-at-60s"),
        pytest.param([10.0, 20.0, 30.0], 65.0, 5.0, id="mid-window"),
        pytest.param([10.0, 20.0, 30.0], 75.0, None, id="mid-window-oldest-left"),
    ],
)
def test_request_limiter_window(hits, at, expected):
    limiter = RequestLimiter(limit=3, window=60.0)
    for moment in hits:
        assert limiter.try_acquire("secret", moment) is None
    assert limiter.try_acquire("secret", at) == expected


def test_the_limit_is_per_secret():
    limiter = RequestLimiter(limit=1)
    assert limiter.try_acquire("sandbox-a", 0.0) is None
    assert limiter.try_acquire("sandbox-a", 1.0) is not None
    assert limiter.try_acquire("sandbox-b", 1.0) is None


def test_300_per_minute_then_refused_then_free_again():
    limiter = RequestLimiter(limit=300)
    for i in range(300):
        assert limiter.try_acquire("s", i * 0.1) is None
    assert limiter.try_acquire("s", 30.0) == pytest.approx(30.0)
    assert limiter.try_acquire("s", 60.0) is None  # the first hit (t=0) left the window


def test_refused_requests_do_not_extend_the_wait():
    limiter = RequestLimiter(limit=2, window=60.0)
    limiter.try_acquire("s", 0.0)
    limiter.try_acquire("s", 0.0)
    for moment in (10.0, 20.0, 30.0, 59.0):
        assert limiter.try_acquire("s", moment) == pytest.approx(60.0 - moment)
    assert limiter.try_acquire("s", 60.0) is None


# -- refreshes per access token in (now - 24h, now] ------------------------------------------------------


@pytest.mark.parametrize(
    ("ages", "used", "exhausted"),
    [
        pytest.param([], 0, False, id="none"),
        pytest.param([timedelta(hours=1)], 1, False, id="one"),
        pytest.param([timedelta(hours=h) for h in (1, 2, 3)], 3, True, id="three-in-24h"),
        pytest.param([timedelta(hours=24), timedelta(hours=2), timedelta(hours=1)], 2, False, id="24h-ago-has-left"),
        pytest.param(
            [timedelta(hours=23, minutes=59), timedelta(hours=2), timedelta(hours=1)], 3, True, id="just-inside"
        ),
        pytest.param([timedelta(0)] * 3, 3, True, id="three-right-now"),
        pytest.param([timedelta(hours=-1)], 0, False, id="future-does-not-count"),
    ],
)
def test_refresh_budget_window(ages, used, exhausted):
    budget = RefreshBudget(limit=3)
    for age in ages:
        budget.record(["tok"], T0 - age)
    assert budget.used("tok", T0) == used
    assert budget.exhausted(["tok"], T0) == (["tok"] if exhausted else [])


def test_one_refresh_spends_one_unit_on_each_token_it_touches():
    budget = RefreshBudget(limit=3)
    for _ in range(3):
        budget.record(["a", "b"], T0)
    budget.record(["c"], T0)
    assert budget.exhausted(["a", "b", "c", "d"], T0) == ["a", "b"]
    assert budget.used("c", T0) == 1 and budget.used("d", T0) == 0


# -- DRF's wording, which the client parses (truv-api.md section 7) ---------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        pytest.param(12, 12, id="whole"),
        pytest.param(1.2, 2, id="rounded-up"),
        pytest.param(0, 1, id="never-zero"),
        pytest.param(0.01, 1, id="tiny"),
        pytest.param(59.0, 59, id="59"),
    ],
)
def test_wait_message_and_the_client_agree(seconds, shown):
    message = wait_message(seconds)
    assert message == f"Request was throttled. Expected available in {shown} seconds."
    answer = wire.error(429, "throttled", message)
    response = httpx.Response(answer.status, headers=answer.headers, content=answer.body)
    assert retry_after_seconds(response) == float(shown)


# -- Truv's error bodies (section 7) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "status", "body"),
    [
        pytest.param(
            wire.error(401, "authentication_failed", "Invalid credentials"),
            401,
            {"error": {"code": "authentication_failed", "message": "Invalid credentials"}},
            id="standard",
        ),
        pytest.param(
            wire.bad_request("Invalid request", [{"field": "products", "message": "exactly one"}]),
            400,
            {
                "error": {
                    "code": "incorrect_parameters",
                    "message": "Invalid request",
                    "extra": {"invalid-params": [{"field": "products", "message": "exactly one"}]},
                }
            },
            id="400-with-extra",
        ),
        pytest.param(wire.not_found(), 404, {"detail": "Not Found."}, id="404-drf-shape"),
        pytest.param(wire.method_not_allowed("PUT"), 405, {"detail": 'Method "PUT" not allowed.'}, id="405"),
    ],
)
def test_error_bodies(response, status, body):
    assert response.status == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body


def test_extra_appears_only_when_given():
    assert "extra" not in wire.error(429, "throttled", "x").json()["error"]


# -- task outcomes and the suborder enum (sections 3 and 5) -----------------------------------------------


@pytest.mark.parametrize(
    ("task", "suborder"),
    [
        pytest.param("done", "completed", id="done"),
        pytest.param("no_data", "no_data", id="no_data"),
        *(pytest.param(t, "error", id=t) for t in TERMINAL if t not in ("done", "no_data")),
    ],
)
def test_suborder_status_of_a_terminal_task(task, suborder):
    assert suborder_status(task) == suborder
    assert suborder in ("pending", "sent", "completed", "error", "canceled", "expired", "no_data", "skipped")


@pytest.mark.parametrize(
    ("scenario", "attempts"),
    [
        pytest.param("ok", ["done", "done", "done"], id="ok"),
        pytest.param("flaky", ["unavailable", "done", "done"], id="flaky"),
        pytest.param("login_error", ["login_error"] * 3, id="login_error"),
        pytest.param("mfa_error", ["mfa_error"] * 3, id="mfa_error"),
        pytest.param("account_locked", ["account_locked"] * 3, id="account_locked"),
        pytest.param("unavailable", ["unavailable"] * 3, id="unavailable"),
        pytest.param("no_data", ["no_data"] * 3, id="no_data"),
    ],
)
def test_task_outcome_per_scenario(scenario, attempts):
    assert [task_outcome(scenario, n) for n in range(3)] == attempts
    assert all(outcome in TERMINAL for outcome in attempts)


def test_every_scenario_is_covered():
    assert set(SCENARIOS) == {"ok", "login_error", "mfa_error", "account_locked", "unavailable", "no_data", "flaky"}


# -- times as the sandbox writes them and monitor reads them ----------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        pytest.param(T0, id="utc"),
        pytest.param(T0.astimezone(UTC).replace(microsecond=123456), id="micros"),
        pytest.param(datetime(2026, 6, 5, 14, 0, tzinfo=UTC).astimezone(), id="local-zone"),
    ],
)
def test_iso_writes_z_and_monitor_reads_it_back(moment):
    text = iso(moment)
    assert text.endswith("Z") and "+00:00" not in text
    assert truv_wire.parse_time(text) == moment
    assert parse_time(text) == moment


@pytest.mark.parametrize("value", ["2026-06-05T12:00:00", "2026-06-05"])
def test_sandbox_timestamps_need_a_zone(value):
    with pytest.raises(ValueError, match="has no timezone"):
        parse_time(value)


# -- a sandbox suborder and link as monitor's parser reads them (README: sent_with_last_task) -------------


def _suborder(style: str, task_status: str, *, finished: bool = True) -> Suborder:
    link = Link(id="l1", access_token="tok-0000-7610", user_id="u1", scenario="ok", kind="employer", created_at=T0)
    finishes = T0 + timedelta(hours=1)
    return Suborder(
        id="e1",
        suborder_number="S-1",
        link=link,
        company="Acme",
        kind="employer",
        created_at=T0,
        task=Task(finishes_at=finishes if finished else T0 + timedelta(days=1), status=task_status),
        status_style=style,
    )


@pytest.mark.parametrize("style", ["standard", "sent_with_last_task"])
@pytest.mark.parametrize("task_status", TERMINAL)
def test_monitor_reads_the_sandboxs_suborder_whichever_status_style(style, task_status):
    now = T0 + timedelta(hours=2)
    order = Order(
        id="o1",
        products=("income",),
        order_number=None,
        user_id="u1",
        first_name="J",
        last_name="D",
        created_at=T0,
        root_id="o1",
        employers=[_suborder(style, task_status)],
    )
    body = order.to_json(now)
    # The documented shape: the order carries completed_at, the suborder created_at only.
    assert not {"completed_at", "updated_at"} & set(body["employers"][0])
    assert body["completed_at"] == (iso(T0 + timedelta(hours=1)) if task_status == "done" else None)
    (sub,) = truv_wire.parse_order(body).suborders
    expected = suborder_status(task_status) if style == "standard" else task_status
    assert sub.status == expected
    assert sub.token_hash == token_hash("tok-0000-7610")
    info = truv_wire.parse_order(body)
    if task_status == "done":
        assert info.data_date(sub) == T0 + timedelta(hours=1)
    else:
        assert info.data_date(sub) is None


@pytest.mark.parametrize("style", ["standard", "sent_with_last_task"])
def test_an_unfinished_task_reads_as_not_done(style):
    now = T0 + timedelta(hours=2)
    body = {"id": "o1", "employers": [_suborder(style, "done", finished=False).to_json(now)]}
    (sub,) = truv_wire.parse_order(body).suborders
    assert sub.status in ("pending", "sent")
    assert truv_wire.parse_order(body).data_date(sub) is None


@pytest.mark.parametrize(
    ("tasks", "deleted", "status", "is_deleted"),
    [
        pytest.param([], None, "done", False, id="seeded"),
        pytest.param([("login_error", 1)], None, "login_error", False, id="last-task-failed"),
        pytest.param([("login_error", 1), ("done", 2)], None, "done", False, id="reconnected"),
        pytest.param([("done", 1), ("mfa_error", 5)], None, "done", False, id="future-task-not-yet"),
        pytest.param([("done", 1)], 2, "done", True, id="deleted"),
        pytest.param([("done", 1)], 5, "done", False, id="deletion-not-yet"),
    ],
)
def test_monitor_reads_the_sandboxs_link(tasks, deleted, status, is_deleted):
    link = Link(id="l1", access_token="tok-0000-7610", user_id="u1", scenario="ok", kind="employer", created_at=T0)
    link.tasks = [Task(finishes_at=T0 + timedelta(hours=h), status=s) for s, h in tasks]
    link.deleted_at = T0 + timedelta(hours=deleted) if deleted is not None else None
    body = link.to_json(T0 + timedelta(hours=3))
    assert body["access_token"] == "****7610"  # masked as Truv masks it
    info = truv_wire.parse_link(json.loads(json.dumps(body)))
    assert (info.id, info.status, info.deleted) == ("l1", status, is_deleted)


# -- scenario inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"scenario": "sometimes"}, "scenario: expected one of ok, login_error", id="scenario"),
        pytest.param({"status_style": "odd"}, "status_style: expected one of standard", id="status-style"),
        pytest.param({"link_deleted": "yes"}, "link_deleted: expected true or false", id="link-deleted"),
        pytest.param({"access_token": 1234}, "employer.access_token: expected a string", id="token-number"),
        pytest.param({"completed_at": 5}, "employer.completed_at: expected an ISO-8601", id="completed-number"),
        pytest.param({"completed_at": "2026-06-05"}, "has no timezone", id="completed-naive"),
        pytest.param({"colour": "red"}, "employer: unknown keys ['colour']", id="unknown-key"),
    ],
)
def test_employer_spec_refusals(data, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        EmployerSpec.from_mapping(data)


def test_employer_spec_defaults():
    spec = EmployerSpec.from_mapping({})
    assert (spec.scenario, spec.status_style, spec.link_deleted, spec.changes) == ("ok", "standard", False, ())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, (), id="none"),
        pytest.param({"at_refresh": 2, "job_loss": True}, (EmployerChange(2, "job_loss"),), id="one-mapping"),
        pytest.param(
            [{"at_refresh": 4, "job_loss": True}, {"at_refresh": 2, "pay_cut": "15%"}],
            (EmployerChange(2, "pay_cut", Decimal("0.15")), EmployerChange(4, "job_loss")),
            id="sorted-by-refresh",
        ),
        pytest.param({"at_refresh": 1, "pay_cut": 0.1}, (EmployerChange(1, "pay_cut", Decimal("0.1")),), id="share"),
        pytest.param(
            {"at_refresh": 1, "pay_cut": "0.25"}, (EmployerChange(1, "pay_cut", Decimal("0.25")),), id="share-text"
        ),
        pytest.param(
            [{"at_refresh": 1, "job_loss": True}, {"at_refresh": 2, "rehire": True}],
            (EmployerChange(1, "job_loss"), EmployerChange(2, "rehire")),
            id="rehire-after-loss",
        ),
    ],
)
def test_parse_changes(value, expected):
    assert parse_changes(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("job_loss", "expected a mapping or a list of mappings", id="string"),
        pytest.param([1], r"changes\[0\]: expected a mapping", id="list-of-number"),
        pytest.param({"at_refresh": 1}, "expected exactly one of", id="no-kind"),
        pytest.param({"at_refresh": 1, "job_loss": True, "rehire": True}, "expected exactly one of", id="two-kinds"),
        pytest.param({"job_loss": True}, "at_refresh is required", id="no-at-refresh"),
        pytest.param({"at_refresh": 0, "job_loss": True}, "at_refresh: expected a whole number >= 1", id="zero"),
        pytest.param({"at_refresh": True, "job_loss": True}, "at_refresh: expected a whole number", id="bool"),
        pytest.param({"at_refresh": 1, "job_loss": "yes"}, "job_loss: expected true", id="kind-not-true"),
        pytest.param({"at_refresh": 1, "pay_cut": 15}, "expected a share between 0 and 1", id="bare-15"),
        pytest.param({"at_refresh": 1, "pay_cut": "100%"}, "expected a share between 0 and 1", id="hundred"),
        pytest.param({"at_refresh": 1, "pay_cut": "lots"}, "expected a share like '15%'", id="words"),
        pytest.param({"at_refresh": 1, "fired": True}, "unknown keys", id="unknown-kind"),
        pytest.param(
            [{"at_refresh": 2, "job_loss": True}, {"at_refresh": 2, "rehire": True}],
            "two changes at refresh 2",
            id="two-at-one-refresh",
        ),
        pytest.param(
            [{"at_refresh": 1, "job_loss": True}, {"at_refresh": 2, "pay_cut": "5%"}],
            "follows the end of the employment",
            id="pay-cut-after-loss",
        ),
        pytest.param(
            [{"at_refresh": 1, "job_type_change": True}, {"at_refresh": 2, "job_type_change": True}],
            "job_type_change twice",
            id="type-change-twice",
        ),
    ],
)
def test_parse_changes_refusals(value, message):
    with pytest.raises(ValueError, match=message):
        parse_changes(value)


def test_every_change_kind_is_scriptable():
    for kind in CHANGE_KINDS:
        raw = "10%" if kind == "pay_cut" else True
        (change,) = parse_changes({"at_refresh": 1, kind: raw})
        assert change.kind == kind
        assert parse_changes(change.to_mapping()) == (change,)


# -- fault switches ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, Faults(), id="none"),
        pytest.param("", Faults(), id="empty-text"),
        pytest.param("5xx=0.5, seed=3", Faults(seed=3, error_5xx_rate=0.5), id="text"),
        pytest.param({"5xx": 0.5, "seed": 3}, Faults(seed=3, error_5xx_rate=0.5), id="short-names"),
        pytest.param({"throttle_rate": 0.2}, Faults(throttle_rate=0.2), id="field-names"),
        pytest.param("retry_after=none", Faults(throttle_retry_after=None), id="retry-after-none"),
        pytest.param("slow=0.5", Faults(slow_rate=0.5), id="slow-rate-only"),
        pytest.param("404=1", Faults(not_found_rate=1.0), id="rate-one"),
    ],
)
def test_faults_from_value(value, expected):
    assert Faults.from_value(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({"bogus": 1}, "faults: unknown key 'bogus'", id="unknown-key"),
        pytest.param({"5xx": 1.5}, "error_5xx_rate: expected a rate between 0 and 1", id="rate-over-1"),
        pytest.param({"throttle_rate": -0.1}, "throttle_rate: expected a rate between 0 and 1", id="negative"),
        pytest.param({"slow_seconds": -1}, "slow_seconds: expected >= 0", id="slow-negative"),
        pytest.param({"retry_after": -2}, "throttle_retry_after: expected >= 0", id="retry-after-negative"),
        pytest.param("429=nan", "429: expected a rate", id="nan"),
        pytest.param("retry_after=-1", "retry_after: expected seconds >= 0", id="text-retry-after-negative"),
        pytest.param("5xx", "expected KEY=VALUE", id="no-value"),
    ],
)
def test_faults_refusals(value, message):
    with pytest.raises(ValueError, match=message):
        Faults.from_value(value)


def test_no_fault_fires_at_rate_zero():
    faults = Faults(seed=1)
    assert all(faults.before("refresh") is None for _ in range(200))


def test_a_certain_fault_fires_every_time():
    faults = Faults(seed=1, error_5xx_rate=1.0)
    statuses = {faults.before("order_get")[0].status for _ in range(50)}  # type: ignore[index]
    assert statuses <= {500, 503} and statuses


def test_an_injected_throttle_says_when_and_the_client_reads_it():
    faults = Faults(throttle_rate=1.0, throttle_retry_after=2.5)
    answer, kind = faults.before("refresh")  # type: ignore[misc]
    assert (answer.status, kind, answer.headers["retry-after"]) == (429, "429", "3")
    response = httpx.Response(answer.status, headers=answer.headers, content=answer.body)
    assert retry_after_seconds(response) == 3.0
