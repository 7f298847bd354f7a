"""A due batch of webhooks as it is delivered: the exact bytes, their headers and signature, and the
delivery faults (`webhook_duplicates`: a copy right after its original; `webhook_reorder`: a shuffled
batch), each rolled from an RNG of its own so turning them on changes no webhook id."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

USER_AGENT = "Truv-Webhook-Service/2.0"
SIGNATURE_HEADER = "X-WEBHOOK-SIGN"
# An event waiting for its moment: (moment, scheduling sequence, payload).
Scheduled = tuple[datetime, int, dict[str, object]]


def sign(body: bytes, secret: str) -> str:
    """The `X-WEBHOOK-SIGN` value: `v1=` + lowercase hex HMAC-SHA256 of the raw body."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Webhook:
    """One delivery: the exact bytes to POST, their headers, and the parsed payload."""

    body: bytes
    headers: dict[str, str]
    event: dict[str, object]

    @property
    def webhook_id(self) -> str:
        return str(self.event["webhook_id"])

    @property
    def event_type(self) -> str:
        return str(self.event["event_type"])


class DeliveryFaults:
    """The duplicate and reorder faults; the events added with the link reports roll duplicates from
    an RNG of their own, so every other webhook keeps the duplication it had before."""

    def __init__(self, seed: int) -> None:
        self._faults = random.Random(f"sandbox-webhook-faults:{seed}")
        self._data_faults = random.Random(f"sandbox-webhook-data-faults:{seed}")
        self._data_webhook_ids: set[str] = set()

    def mark_data(self, webhook_id: str) -> None:
        """The event was added with the link reports (statements-updated, a superseded employment)."""
        self._data_webhook_ids.add(webhook_id)

    def reordered(self, taken: list[Scheduled]) -> list[Scheduled]:
        shuffled = taken[:]
        self._faults.shuffle(shuffled)
        # A reorder fault must reorder: when the shuffle changed nothing, or kept every
        # change before the later ones, reverse instead (newest change first).
        in_order = all(a[0] <= b[0] for a, b in pairwise(shuffled))
        if shuffled == taken or (in_order and taken[0][0] != taken[-1][0]):
            return taken[::-1]
        return shuffled

    def copies(self, payload: dict[str, object], secret: str | None, duplicates: float) -> list[Webhook]:
        """The webhook, twice when the duplicate fault rolls it (from the RNG of its kind of event)."""
        webhook_id = str(payload["webhook_id"])
        faults = self._data_faults if webhook_id in self._data_webhook_ids else self._faults
        self._data_webhook_ids.discard(webhook_id)
        copies = 2 if duplicates > 0 and faults.random() < duplicates else 1
        body = json.dumps(payload, separators=(",", ":")).encode()
        return [_webhook(body, secret) for _ in range(copies)]


def _webhook(body: bytes, secret: str | None) -> Webhook:
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    return Webhook(body=body, headers=headers, event=json.loads(body))
