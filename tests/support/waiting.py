"""Bounded waits on an explicit signal: a condition polled until a deadline, never a fixed sleep."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
POLL_INTERVAL_S = 0.25


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    last_seen: Callable[[], Any] | None = None,
    interval_s: float = POLL_INTERVAL_S,
) -> T:
    """Calls `probe` until it returns something truthy; after `timeout_s` fails the test naming `what` and
    what `last_seen()` reports (by default, the probe's last result)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() >= deadline:
            seen = last_seen() if last_seen else result
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}; last seen: {seen}", pytrace=False)
        time.sleep(interval_s)


def wait_for_file(path: Path, timeout_s: float = 30, last_seen: Callable[[], Any] | None = None) -> str:
    """The content of `path` once it exists: a process under test writes it to say it got somewhere."""
    wait_until(path.exists, timeout_s=timeout_s, what=f"{path} to appear", last_seen=last_seen, interval_s=0.02)
    return path.read_text()
