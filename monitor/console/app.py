"""The console's routes: sign-in, the pages, the operators' actions (an update-mode token, a finding's
disposition), report downloads; and the app around them (security headers on every answer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.resources import files

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from monitor.console import pages
from monitor.console.dispose_action import dispose
from monitor.console.frame import SecuredStarlette, error_handlers
from monitor.console.login import login, logout
from monitor.console.report_page import report
from monitor.console.security import Access, RequestChecks
from monitor.console.token_action import confirm_token, create_token
from monitor.console.web import Console, to_login
from monitor.errors import InputError
from monitor.services import Context, Services
from monitor.store.console_users import SignedIn

log = structlog.get_logger("monitor.console")
Handler = Callable[[Console, Request, SignedIn], Response]


def _signed_in(console: Console, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page for any signed-in user; others are sent to the login page."""

    async def endpoint(request: Request) -> Response:
        me = await run_in_threadpool(console.who, request)
        if me is None:
            return to_login(request)
        try:
            return await run_in_threadpool(handler, console, request, me)
        except InputError as exc:
            return console.error(request, me, status=400, title="Bad request", message=str(exc))

    return endpoint


def create_app(context: Context, *, services: Services | None = None, access: Access | None = None) -> Starlette:
    """The console over `context` (reads); `services` adds the Truv client the token action needs."""
    console = Console(context=context, services=services, access=access or Access())
    read = [
        ("/", pages.overview),
        ("/loans", pages.loans),
        ("/loans/{loan_id:path}", pages.loan),
        ("/reauth", pages.reauth),
        ("/reauth/{loan_id:path}/token", confirm_token),
        ("/changes", pages.changes),
        ("/ledger", pages.ledger),
        ("/audit", pages.audit_page),
        ("/reports", report),
    ]
    routes: list[BaseRoute] = [Route(path, _signed_in(console, handler)) for path, handler in read]
    routes += [
        Route("/reauth/{loan_id:path}/token", create_token(console), methods=["POST"]),
        Route("/changes/{finding_id:int}", dispose(console), methods=["POST"]),
        Route("/login", login(console), methods=["GET", "POST"]),
        Route("/logout", logout(console), methods=["POST"]),
        Route("/healthz", lambda request: PlainTextResponse("ok")),
        Mount("/static", StaticFiles(directory=str(files("monitor.console") / "static")), name="static"),
    ]
    app = SecuredStarlette(routes=routes, exception_handlers=error_handlers(console))
    app.add_middleware(RequestChecks, access=console.access)
    return app
