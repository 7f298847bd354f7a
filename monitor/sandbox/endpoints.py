"""Truv's API endpoints, once a request passed the common checks (api.py): one function per
endpoint name of `request_checks.route`, each reading a `Call`."""

from __future__ import annotations

from collections.abc import Callable

from monitor.sandbox import wire
from monitor.sandbox.bridge_tokens import bridge_token
from monitor.sandbox.call import Call
from monitor.sandbox.model import Order
from monitor.sandbox.order_shapes import OrderJson
from monitor.sandbox.refresh_requests import forbidden, refresh, refuse
from monitor.sandbox.report_lookup import find_assets_report, find_link_report
from monitor.sandbox.request_checks import parse_body


def _order_list(call: Call) -> wire.Response:
    def render(order: Order) -> OrderJson:
        return call.settings.order_json(order, call.now)

    return call.order_list.answer(call.world.orders, call.query, call.headers, call.now, render)


def _order_get(call: Call) -> wire.Response:
    order = call.world.orders.get(call.resource_id)
    if order is None:
        return wire.not_found()
    if call.world.is_forbidden(order):
        return refuse(call.world, call.entry, forbidden())
    return wire.json_response(200, call.settings.order_json(order, call.now))


def _link_get(call: Call) -> wire.Response:
    link = call.world.links.get(call.resource_id)
    return wire.json_response(200, link.to_json(call.now)) if link else wire.not_found()


def _link_report(product: str) -> Callable[[Call], wire.Response]:
    def answer(call: Call) -> wire.Response:
        report = find_link_report(call.world, call.resource_id, product, call.now)
        return wire.json_response(200, report) if report is not None else wire.not_found()

    return answer


def _assets_report(call: Call) -> wire.Response:
    user_id, _, report_id = call.resource_id.partition("/assets/reports/")
    report = find_assets_report(call.world, user_id, report_id, call.now)
    return wire.json_response(200, report) if report is not None else wire.not_found()


def _tokens(call: Call) -> wire.Response:
    payload = parse_body(call.headers, call.body)
    if isinstance(payload, wire.Response):
        return payload
    return bridge_token(call.world, call.resource_id, payload, call.now)


ENDPOINTS: dict[str, Callable[[Call], wire.Response]] = {
    "order_list": _order_list,
    "order_get": _order_get,
    "refresh": refresh,
    "link_get": _link_get,
    "income_report": _link_report("income"),
    "employment_report": _link_report("employment"),
    "assets_report": _assets_report,
    "tokens": _tokens,
}
