"""The Standard Webhooks signature (https://www.standardwebhooks.com): what a receiver checks a delivery against.

A delivery carries three headers: `webhook-id` (the verdict event's `event_id`, the same for every attempt and
every copy, so the receiver de-duplicates by it), `webhook-timestamp` (seconds since the epoch, when this attempt was
signed: a receiver refuses one older than a few minutes, so a captured delivery cannot be replayed later) and
`webhook-signature` (`v1,` + base64 of HMAC-SHA256 over `<id>.<timestamp>.<body>` keyed with the shared secret).
The secret is written as Standard Webhooks writes it, `whsec_` + base64 of the key; the prefix may be left out.
Pure functions, no I/O: the stdlib's hmac is the whole scheme, so no library is needed to sign.
"""

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"  # noqa: S105 (the scheme's prefix, no secret)
VERSION = "v1"


class InvalidSecret(ValueError):
    """The stored secret is not a Standard Webhooks secret (base64, optionally prefixed with whsec_)."""


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret written as `whsec_<base64>` or bare base64."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("the webhook secret must be base64 (optionally prefixed with whsec_)") from None
    if len(key) < 16:
        raise InvalidSecret(f"the webhook secret must hold at least 16 bytes of key, not {len(key)}")
    return key


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`'s value for one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, message_id, timestamp, body),
    }
