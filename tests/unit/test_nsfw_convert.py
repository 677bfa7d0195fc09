"""tools/nsfw/convert.py's pure parts: dequantizing TF.js weights and naming layers as the package does."""

import importlib.util
import struct

import numpy as np
import pytest

from infra.paths import REPO_ROOT

_spec = importlib.util.spec_from_file_location("nsfw_convert", REPO_ROOT / "tools" / "nsfw" / "convert.py")
assert _spec and _spec.loader
convert = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(convert)


def test_uint8_weights_are_dequantized_as_min_plus_scale_times_byte_in_manifest_order():
    manifest = [
        {
            "name": "a/kernel",
            "shape": [2, 2],
            "dtype": "float32",
            "quantization": {"min": -1.0, "scale": 0.5, "dtype": "uint8"},
        },
        {"name": "b/bias", "shape": [2], "dtype": "float32"},
    ]
    data = bytes([0, 1, 2, 4]) + struct.pack("<2f", 0.25, -3.5)

    tensors = convert.dequantize(manifest, data)

    np.testing.assert_array_equal(tensors["a/kernel"], np.array([[-1.0, -0.5], [0.0, 1.0]], dtype=np.float32))
    np.testing.assert_array_equal(tensors["b/bias"], np.array([0.25, -3.5], dtype=np.float32))
    assert tensors["a/kernel"].dtype == np.float32


def test_weights_that_do_not_fill_the_shards_exactly_are_refused():
    manifest = [
        {"name": "a/bias", "shape": [3], "dtype": "float32", "quantization": {"min": 0, "scale": 1, "dtype": "uint8"}}
    ]

    with pytest.raises(convert.ConversionError, match="3 bytes"):
        convert.dequantize(manifest, bytes(4))


@pytest.mark.parametrize(
    "model, keras_name, package_name",
    [
        ("MobileNetV2", "block_1_expand", "block_1_expand"),
        ("InceptionV3", "conv2d", "conv2d_1"),
        ("InceptionV3", "conv2d_93", "conv2d_94"),
        ("InceptionV3", "batch_normalization_5", "batch_normalization_6"),
        ("InceptionV3", "dense_1", "dense_1"),
    ],
)
def test_layer_names_follow_the_packages_keras_2_numbering(model, keras_name, package_name):
    assert convert.package_name(keras_name, model) == package_name
