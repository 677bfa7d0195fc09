"""Opaque page cursors: a table's continuation key as URL-safe base64 of compact JSON."""

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from typing import Any

from photomod_shared.errors import InvalidCursor

NOT_OURS = "cursor is not one this API returned"


def encode_cursor(key: Mapping[str, Any]) -> str:
    text = json.dumps(dict(key), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fields: Collection[str], *, message: str = NOT_OURS) -> dict[str, str]:
    """The key in a cursor `encode_cursor` wrote with exactly these (text) fields; InvalidCursor otherwise.

    Callers check what the values may be (an image id, a length) and raise InvalidCursor(message) themselves.
    """
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):  # not base64, not UTF-8 or not JSON
        raise InvalidCursor(message) from None
    if not isinstance(key, dict) or set(key) != set(fields) or not all(isinstance(v, str) for v in key.values()):
        raise InvalidCursor(message)
    return key
