"""Paging through an API's opaque cursors, and cursors a client made up."""

import base64
import json
from collections.abc import Callable
from typing import Any, TypeVar

Page = TypeVar("Page")


def forged_cursor(value: Any) -> str:
    """A cursor the API never issued: `value` as JSON (bytes and strings as they are), in URL-safe base64 without
    padding, as the API writes its own."""
    text = value if isinstance(value, str | bytes) else json.dumps(value)
    raw = text if isinstance(text, bytes) else text.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def every_page(
    fetch: Callable[[str | None], Page], next_cursor: Callable[[Page], str | None], max_pages: int = 100
) -> list[Page]:
    """The first page (cursor None), then each page the previous one's cursor leads to, until none does; a cursor
    that never runs out fails the test after `max_pages` pages."""
    pages = [fetch(None)]
    while cursor := next_cursor(pages[-1]):
        assert len(pages) < max_pages, f"still a next cursor after {max_pages} pages: {cursor}"
        pages.append(fetch(cursor))
    return pages
