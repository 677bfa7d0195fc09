"""The safety model: explicit-content probabilities (drawing, hentai, neutral, porn, sexy) beside ResNet50.

The model is nsfwjs' MobileNetV2 (MIT, npm package nsfwjs), converted to Keras at build time by
tools/nsfw/convert.py (`make models`); a JSON file beside it names the model and the package version.
`make models` (and the image's build stage) then converts the Keras model to LiteRT beside it
(`<name>.litert.tflite` and its card, see `model_build`). SAFETY_MODEL_PATH names the Keras file either way:
with MODEL_RUNTIME=litert (the function image, which carries no TensorFlow and no .keras file) its LiteRT
conversion is served through classify.served.ServedModel; with MODEL_RUNTIME=tensorflow the Keras model itself,
the reference the conversion is checked against.
`preprocess_for_safety` makes its input with an antialiased reduction (see there); the model is loaded once per process
and exposes `predict(batch) -> (n, 5)` so that it can be served by any runtime.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from classify.model import RUNTIME_LITERT, RUNTIME_TENSORFLOW, SERVED_MAX_BATCH
from photomod_shared.prediction import (
    SAFETY_CLASSES,
    Safety,
    SafetyModelInfo,
    SafetyProbabilities,
    SecondOpinion,
    SecondOpinionModelInfo,
)

SAFETY_MODEL_FILE = "nsfwjs_mobilenet_v2.keras"
# Its LiteRT conversion lives beside it under this suffix (the card `.litert.json` must not overwrite the Keras
# model's own `.json`).
SERVED_SUFFIX = ".litert.tflite"

logger = logging.getLogger(__name__)


class SafetyModelUnavailable(RuntimeError):
    """No converted safety model where it was expected, and running without one is not allowed."""


@dataclass(frozen=True)
class SafetyInfo:
    name: str
    version: str
    input_size: int

    @property
    def model_info(self) -> SafetyModelInfo:
        """What a stored result names of the model (its input size is the loader's business)."""
        return SafetyModelInfo(name=self.name, version=self.version)


def preprocess_for_safety(image: Image.Image, size: int = 224) -> np.ndarray:
    """The safety model's input: the image reduced to size x size (no crop) by area averaging (Pillow's box
    filter: every source pixel counted once), then pixels / 255.

    nsfwjs itself stretches the photo with TensorFlow.js' bilinear resize with aligned corners, which reads four
    pixels per output pixel (about 0.2 % of a large photo): an attacker who replaces only those pixels decides
    what the model sees (the image-scaling attack). Reduced here first, with every source pixel weighted, the
    model gets a size x size image, which nsfwjs' own resize would leave as it is; the parity test gives both
    sides these same pixels. Box rather than bilinear: on the sample photos its scores stay closest to nsfwjs' own
    (bilinear's wider, blurring filter raised product photos' porn score by up to 0.3; docs/benchmark.md).
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BOX)
    return np.asarray(rgb, dtype=np.float32) / np.float32(255)


def safety_result(probabilities: np.ndarray, info: SafetyInfo, second_opinion: SecondOpinion | None = None) -> Safety:
    """The record's `safety` for one photo: nsfwjs' five probabilities, its top class and the model; and the
    second opinion (`second_opinion_result`), null where it was not given."""
    scores = {name: round(float(score), 6) for name, score in zip(SAFETY_CLASSES, probabilities, strict=True)}
    return Safety(
        top_class=max(scores, key=scores.__getitem__),  # type: ignore[arg-type]  # one of SAFETY_CLASSES
        probabilities=SafetyProbabilities(**scores),
        model=info.model_info,
        second_opinion=second_opinion,
    )


def second_opinion_result(nsfw: float, info: SecondOpinionModelInfo) -> SecondOpinion:
    """The second explicit-content model's part of `safety`: its P(NSFW) and which model gave it."""
    return SecondOpinion(nsfw=round(float(nsfw), 6), model=info)


def probabilities_of(safety: Safety) -> np.ndarray:
    """A stored or fresh `safety` back to the model's (5,) probability vector."""
    return np.array([getattr(safety.probabilities, name) for name in SAFETY_CLASSES], dtype=np.float64)


class SafetyModel:
    def __init__(self, forward: Callable[[np.ndarray], Any], info: SafetyInfo):
        self._forward = forward
        self.info = info

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return preprocess_for_safety(image, self.info.input_size)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities, shape (n, 5) in SAFETY_CLASSES order, for a preprocessed batch: one forward pass."""
        size = self.info.input_size
        if batch.ndim != 4 or batch.shape[1:] != (size, size, 3):
            raise ValueError(f"expected a batch of shape (n, {size}, {size}, 3), got {batch.shape}")
        return np.asarray(self._forward(batch.astype(np.float32, copy=False)))


def served_path_for(keras_path: Path) -> Path:
    """Where `make models` and the image's build stage write the LiteRT conversion of a Keras safety model."""
    return keras_path.with_suffix(SERVED_SUFFIX)


def resolve_safety_model(configured_path: str | None, required: bool, runtime: str = RUNTIME_TENSORFLOW) -> Path | None:
    """The model file to load (the Keras file, or its LiteRT conversion for runtime litert), or None where running
    without one is allowed (with a loud warning)."""
    path = Path(configured_path) if configured_path else Path("models") / SAFETY_MODEL_FILE
    if runtime not in (RUNTIME_LITERT, RUNTIME_TENSORFLOW):
        raise SafetyModelUnavailable(f"unknown model runtime {runtime!r}")
    model_file = served_path_for(path) if runtime == RUNTIME_LITERT else path
    if model_file.is_file() and path.with_suffix(".json").is_file():
        return model_file
    if required:
        raise SafetyModelUnavailable(
            f"safety model not found at {model_file} (and {path.with_suffix('.json').name} beside it); build it with "
            "`make models` (the classify image's build does) or set SAFETY_MODEL_PATH"
        )
    logger.warning(
        "NO SAFETY MODEL: %s is missing, so photos get no explicit-content check (safety is null and the policy's "
        "explicit category cannot fire). Run `make models` to build it from the pinned nsfwjs npm package.",
        model_file,
    )
    return None


def load_safety_model(
    configured_path: str | None, required: bool, runtime: str = RUNTIME_TENSORFLOW
) -> SafetyModel | None:
    """The safety model under `runtime`: its LiteRT conversion (litert) or the Keras model (tensorflow)."""
    model_file = resolve_safety_model(configured_path, required, runtime)
    if model_file is None:
        return None
    keras_path = Path(configured_path) if configured_path else Path("models") / SAFETY_MODEL_FILE
    metadata = json.loads(keras_path.with_suffix(".json").read_text(encoding="utf-8"))
    if [name.lower() for name in metadata["classes"]] != list(SAFETY_CLASSES):
        raise SafetyModelUnavailable(f"{keras_path}: classes {metadata['classes']} are not {list(SAFETY_CLASSES)}")
    info = SafetyInfo(name=metadata["name"], version=metadata["version"], input_size=int(metadata["input_size"]))
    if runtime == RUNTIME_LITERT:
        forward = _served_forward(model_file, keras_path, info)
    else:
        forward = _keras_forward(model_file, info)
    safety_model = SafetyModel(forward, info)
    safety_model.predict(np.zeros((1, info.input_size, info.input_size, 3), dtype=np.float32))  # warm-up
    return safety_model


def _served_forward(served_path: Path, keras_path: Path, info: SafetyInfo) -> Callable[[np.ndarray], Any]:
    """The LiteRT conversion; refused when the Keras model beside it (locally) is not the one it was made from."""
    from classify.served import ModelCard, ServedModel, file_source

    card = ModelCard.read(served_path)
    if keras_path.is_file() and not card.describes(file_source(keras_path)):
        # A rebuilt Keras model with a stale conversion would serve other weights than the reference checks.
        raise SafetyModelUnavailable(
            f"{served_path} was not converted from the current {keras_path}; run `make models`"
        )
    # In slices like the classifier's: measured 63 instead of 90 MB at batch 8, 9.3-9.6 against 9.9-10.2 ms of CPU.
    served = ServedModel(served_path, max_batch=SERVED_MAX_BATCH)
    expected = (info.input_size, info.input_size, 3)
    if served.input_shape != expected:
        raise SafetyModelUnavailable(f"{served_path} takes inputs of shape {served.input_shape}, not {expected}")
    return served.predict


def _keras_forward(keras_path: Path, info: SafetyInfo) -> Callable[[np.ndarray], Any]:
    import keras
    import tensorflow as tf  # imported here so that modules which only need the helpers stay light

    model = keras.saving.load_model(keras_path, compile=False)
    forward: Callable[[np.ndarray], Any] = tf.function(
        lambda batch: model(batch, training=False),
        input_signature=[tf.TensorSpec([None, info.input_size, info.input_size, 3], tf.float32)],
    )
    return forward
