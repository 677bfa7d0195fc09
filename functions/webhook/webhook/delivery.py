"""Delivering one verdict event to the shop's webhook, signed (webhook.signing).

The body is the EventBridge event exactly as a rule's target receives it (`detail-type`, `detail`, ...), byte for
byte as the queue holds it, so the signature covers what the receiver parses. An answer other than 2xx, a timeout
or a connection error raises `DeliveryRefused`: the queue delivers the event again later, and after its last
attempt moves it to the dead-letter queue (template.yaml, WebhookQueue).
"""

import json
from typing import Protocol

from webhook.signing import signed_headers


class DeliveryRefused(Exception):
    """The receiver did not take the event (its status, or why it could not be reached)."""


class UndeliverableEvent(ValueError):
    """The queued message is not a verdict event (no detail.event_id): retrying cannot help."""


class Receiver(Protocol):
    def post(self, body: bytes, headers: dict[str, str]) -> int:
        """POSTs the body; the HTTP status, or raises OSError when the receiver cannot be reached."""
        ...


def message_id(body: str) -> str:
    """The verdict event's own id (detail.event_id): stable across attempts and copies, for de-duplication."""
    try:
        event_id = json.loads(body)["detail"]["event_id"]
    except (ValueError, KeyError, TypeError):
        raise UndeliverableEvent("not an EventBridge verdict event (no detail.event_id)") from None
    if not isinstance(event_id, str) or not event_id:
        raise UndeliverableEvent("the verdict event's detail.event_id is empty")
    return event_id


def deliver(body: str, receiver: Receiver, key: bytes, now_s: int) -> int:
    """Signs and POSTs one event; the receiver's 2xx status, or raises DeliveryRefused."""
    payload = body.encode()
    headers = {"content-type": "application/json", **signed_headers(key, message_id(body), now_s, payload)}
    try:
        status = receiver.post(payload, headers)
    except OSError as error:
        raise DeliveryRefused(f"receiver unreachable: {error}") from error
    if not 200 <= status < 300:
        raise DeliveryRefused(f"receiver answered {status}")
    return status
