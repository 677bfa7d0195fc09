"""ResNet50: loaded once per process, warmed up, run on whole batches."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "ResNet50"
WEIGHTS_IMAGENET = "imagenet"
WEIGHTS_UNTRAINED = "untrained"
# Where keras.applications.ResNet50(weights="imagenet") caches the file it downloads and checks.
KERAS_WEIGHTS_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
KERAS_CACHE_PATH = Path.home() / ".keras" / "models" / KERAS_WEIGHTS_FILE

logger = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """No ImageNet weights where they were expected, and running untrained is not allowed."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    weights: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "weights": self.weights}


class Classifier:
    def __init__(self, forward: Callable[[np.ndarray], Any], info: ModelInfo):
        self._forward = forward
        self.info = info

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, 1000), for a preprocessed batch (n, 224, 224, 3): one forward pass."""
        if batch.ndim != 4 or batch.shape[1:] != (224, 224, 3):
            raise ValueError(f"expected a batch of shape (n, 224, 224, 3), got {batch.shape}")
        return np.asarray(self._forward(batch.astype(np.float32, copy=False)))


def resolve_weights(configured_path: str | None, allow_untrained: bool) -> Path | None:
    """The weights file to load, or None for untrained weights (only where allowed)."""
    candidates = [Path(configured_path)] if configured_path else [KERAS_CACHE_PATH]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = configured_path or str(KERAS_CACHE_PATH)
    if not allow_untrained:
        raise ModelUnavailable(
            f"ResNet50 ImageNet weights not found at {where}; run `make weights` or set MODEL_WEIGHTS_PATH"
        )
    logger.warning(
        "UNTRAINED MODEL: no ImageNet weights at %s; predictions are random and recorded as weights=untrained. "
        "Run `make weights` on a machine with internet access to get real predictions.",
        where,
    )
    return None


def load_classifier(configured_path: str | None, allow_untrained: bool) -> Classifier:
    weights = resolve_weights(configured_path, allow_untrained)
    import tensorflow as tf  # imported here so that modules which only need the helpers stay light

    # Grappler's graph rewrites cost about 0.3 s of every cold start and gave no measurable speed here (make bench).
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    model = tf.keras.applications.ResNet50(weights=str(weights) if weights else None)
    # One traced graph for every batch size: measured (make bench) several times faster than eager calls,
    # with a fraction of the peak memory.
    forward = tf.function(
        lambda batch: model(batch, training=False),
        input_signature=[tf.TensorSpec([None, 224, 224, 3], tf.float32)],
    )
    classifier = Classifier(forward, ModelInfo(MODEL_NAME, WEIGHTS_IMAGENET if weights else WEIGHTS_UNTRAINED))
    classifier.predict(np.zeros((1, 224, 224, 3), dtype=np.float32))  # warm-up: the first call builds the graph
    return classifier
