"""ResNet50: loaded once per process, warmed up, run on whole batches.

Two runtimes serve the same network with the same weights:
- `litert` (the default, what the function image carries): the model converted at build time by `model_build`,
  served by LiteRT without TensorFlow;
- `tensorflow`: the Keras model itself, the reference the converted model is checked against.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classify.served import file_source

MODEL_NAME = "ResNet50"
WEIGHTS_IMAGENET = "imagenet"
WEIGHTS_UNTRAINED = "untrained"
RUNTIME_LITERT = "litert"
RUNTIME_TENSORFLOW = "tensorflow"
RUNTIMES = (RUNTIME_LITERT, RUNTIME_TENSORFLOW)
# Untrained weights are drawn from this seed, so every worker, restart and machine answers alike.
UNTRAINED_SEED = 20261126
# Where keras.applications.ResNet50(weights="imagenet") caches the file it downloads and checks.
KERAS_WEIGHTS_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
KERAS_CACHE_PATH = Path.home() / ".keras" / "models" / KERAS_WEIGHTS_FILE
INPUT_SHAPE = (224, 224, 3)
# The served model runs larger batches as forward passes of at most this many photos: measured (make bench, docs/
# benchmark.md) LiteRT's throughput at batch 32 is no better than at 8, while its activations take 0.3 GB more.
SERVED_MAX_BATCH = 8

logger = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """No ImageNet weights (or converted model) where they were expected, or running untrained is not allowed."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    weights: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "weights": self.weights}


class Classifier:
    def __init__(self, forward: Callable[[np.ndarray], Any], info: ModelInfo, runtime: str = RUNTIME_TENSORFLOW):
        self._forward = forward
        self.info = info
        self.runtime = runtime

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, 1000), for a preprocessed batch (n, 224, 224, 3): one forward pass."""
        if batch.ndim != 4 or batch.shape[1:] != INPUT_SHAPE:
            raise ValueError(f"expected a batch of shape (n, 224, 224, 3), got {batch.shape}")
        return np.asarray(self._forward(batch.astype(np.float32, copy=False)))


def resolve_weights(configured_path: str | None, allow_untrained: bool) -> Path | None:
    """The weights file to load, or None for untrained weights (only where allowed)."""
    candidate = Path(configured_path) if configured_path else KERAS_CACHE_PATH
    if candidate.is_file():
        return candidate
    if not allow_untrained:
        raise ModelUnavailable(
            f"ResNet50 ImageNet weights not found at {candidate}; run `make weights` or set MODEL_WEIGHTS_PATH"
        )
    logger.warning(
        "UNTRAINED MODEL: no ImageNet weights at %s; predictions come from weights drawn with seed %d and are "
        "recorded as weights=untrained. Run `make weights` on a machine with internet access to get real predictions.",
        candidate,
        UNTRAINED_SEED,
    )
    return None


def weights_source(weights: Path | None) -> str:
    """What a converted model is keyed on: the weights file's content, or the seed of untrained weights."""
    if weights is None:
        return f"seed:{UNTRAINED_SEED}"
    return file_source(weights)


def build_keras_resnet50(weights: Path | None) -> Any:
    """The Keras ResNet50 with the weights file's values, or with untrained weights drawn from UNTRAINED_SEED."""
    import keras  # imported here: only the reference runtime and the conversion need TensorFlow

    if weights is None:
        # Seeds Python's, NumPy's and the backend's generators, which Keras' initializers draw from.
        keras.utils.set_random_seed(UNTRAINED_SEED)
    return keras.applications.ResNet50(weights=str(weights) if weights else None)


def load_classifier(
    runtime: str = RUNTIME_TENSORFLOW,
    weights_path: str | None = None,
    allow_untrained: bool = False,
    served_model_path: str | None = None,
) -> Classifier:
    if runtime == RUNTIME_LITERT:
        if not served_model_path:
            raise ModelUnavailable("MODEL_RUNTIME=litert needs SERVED_MODEL_PATH, the converted model file")
        return load_served_classifier(Path(served_model_path), allow_untrained, weights_path)
    if runtime == RUNTIME_TENSORFLOW:
        return load_reference_classifier(weights_path, allow_untrained)
    raise ModelUnavailable(f"unknown model runtime {runtime!r}; expected one of: {', '.join(RUNTIMES)}")


def load_served_classifier(model_path: Path, allow_untrained: bool, weights_path: str | None = None) -> Classifier:
    """The converted model under LiteRT; its card says which weights it carries."""
    from classify.served import ModelCard, ServedModel

    if not model_path.is_file():
        raise ModelUnavailable(f"no converted model at {model_path}; run `make model` (the image builds its own)")
    card = ModelCard.read(model_path)
    if card.weights == WEIGHTS_UNTRAINED:
        if not allow_untrained:
            raise ModelUnavailable(f"{model_path} was converted from untrained weights; ImageNet weights are required")
        if weights_path and Path(weights_path).is_file():
            # ImageNet weights arrived after the conversion: serving the stale untrained model would hide them.
            raise ModelUnavailable(
                f"{model_path} was converted from untrained weights but {weights_path} exists; run `make model`"
            )
        logger.warning("UNTRAINED MODEL: %s carries weights drawn with %s (weights=untrained)", model_path, card.source)
    served = ServedModel(model_path, max_batch=SERVED_MAX_BATCH)
    if served.input_shape != INPUT_SHAPE:
        raise ModelUnavailable(f"{model_path} takes inputs of shape {served.input_shape}, not {INPUT_SHAPE}")
    classifier = Classifier(served.predict, ModelInfo(card.name, card.weights), RUNTIME_LITERT)
    classifier.predict(np.zeros((1, *INPUT_SHAPE), dtype=np.float32))  # warm-up: allocates the interpreter's tensors
    return classifier


def load_reference_classifier(weights_path: str | None, allow_untrained: bool) -> Classifier:
    """The Keras model under TensorFlow: the source of truth the converted model is checked against."""
    weights = resolve_weights(weights_path, allow_untrained)
    import tensorflow as tf

    # Grappler's graph rewrites cost about 0.3 s of every cold start and gave no measurable speed here (make bench).
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    model = build_keras_resnet50(weights)
    # One traced graph for every batch size: measured (make bench) several times faster than eager calls,
    # with a fraction of the peak memory.
    forward = tf.function(
        lambda batch: model(batch, training=False),
        input_signature=[tf.TensorSpec([None, *INPUT_SHAPE], tf.float32)],
    )
    info = ModelInfo(MODEL_NAME, WEIGHTS_IMAGENET if weights else WEIGHTS_UNTRAINED)
    classifier = Classifier(forward, info, RUNTIME_TENSORFLOW)
    classifier.predict(np.zeros((1, *INPUT_SHAPE), dtype=np.float32))  # warm-up: the first call builds the graph
    return classifier
