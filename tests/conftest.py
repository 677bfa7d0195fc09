"""Shared by every test tier: the AWS event fixtures in events/."""

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


@cache
def _read_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


def read_event(name: str) -> dict[str, Any]:
    """A fresh copy of events/<name>.json, so a test may change it freely."""
    return copy.deepcopy(_read_event(name))


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """`load_event("create_upload")` -> the event as API Gateway, SQS, ... would deliver it."""
    return read_event


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `runs_last` judge what the others did (the AWS calls they made): they run after them."""
    items.sort(key=lambda item: item.get_closest_marker("runs_last") is not None)
