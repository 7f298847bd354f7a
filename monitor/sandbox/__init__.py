"""A deterministic Truv simulator: in-process via httpx transports, or over HTTP via `serve`."""

from monitor.sandbox.app import create_app, serve
from monitor.sandbox.employer_changes import EmployerChange
from monitor.sandbox.employer_spec import EmployerSpec
from monitor.sandbox.faults import Faults
from monitor.sandbox.state import Sandbox
from monitor.sandbox.transport import AsyncSandboxTransport, SandboxTransport
from monitor.sandbox.webhook_delivery import Webhook, sign
from monitor.sandbox.webhook_pump import WebhookPump
from monitor.sandbox.wire import Response

__all__ = [
    "AsyncSandboxTransport",
    "EmployerChange",
    "EmployerSpec",
    "Faults",
    "Response",
    "Sandbox",
    "SandboxTransport",
    "Webhook",
    "WebhookPump",
    "create_app",
    "serve",
    "sign",
]
