"""Shared by every test tier: the AWS event fixtures in events/."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.events import read_event


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """`load_event("create_upload")` -> the event as API Gateway, SQS, ... would deliver it."""
    return read_event


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `runs_last` judge what the others did (the AWS calls they made): they run after them."""
    items.sort(key=lambda item: item.get_closest_marker("runs_last") is not None)


@pytest.fixture(scope="session")
def served_model() -> Path:
    """The converted model infra/local/env-vars.json serves, converted first when missing or stale (as `make model`).

    The safety model's LiteRT conversion is brought up to date too when its Keras model exists (`make models`), and
    the pinned Open-NSFW file (the second opinion) is copied from its package when missing.
    """
    from infra.build.served_models import (
        convert_if_stale,
        convert_safety_if_stale,
        copy_open_nsfw_if_stale,
        safety_served_path,
    )
    from infra.local.functions import LOCAL_ENV_VARS
    from infra.template import REPO_ROOT

    environment = json.loads(LOCAL_ENV_VARS.read_text())["ClassifyFunction"]
    convert_if_stale(environment["MODEL_WEIGHTS_PATH"], environment["SERVED_MODEL_PATH"], print)
    safety = environment["SAFETY_MODEL_PATH"]
    convert_safety_if_stale(safety, str(safety_served_path(safety)), print)
    copy_open_nsfw_if_stale(environment["OPEN_NSFW_MODEL_PATH"], print)
    return REPO_ROOT / environment["SERVED_MODEL_PATH"]
