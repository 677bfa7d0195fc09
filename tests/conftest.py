"""Shared by every test tier: the AWS event fixtures in tests/events/."""

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).parent / "events"


@cache
def _read_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


def read_event(name: str) -> dict[str, Any]:
    """A fresh copy of tests/events/<name>.json, so a test may change it freely."""
    return copy.deepcopy(_read_event(name))


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """`load_event("create_upload")` -> the event as API Gateway, SQS, ... would deliver it."""
    return read_event


@pytest.fixture(scope="session")
def served_model() -> Path:
    """The converted model infra/local-env.json serves, converted first when missing or stale (as `make model`)."""
    from infra.models import convert_if_stale
    from infra.template import REPO_ROOT

    environment = json.loads((REPO_ROOT / "infra" / "local-env.json").read_text())["ClassifyFunction"]
    convert_if_stale(environment["MODEL_WEIGHTS_PATH"], environment["SERVED_MODEL_PATH"], print)
    return REPO_ROOT / environment["SERVED_MODEL_PATH"]
