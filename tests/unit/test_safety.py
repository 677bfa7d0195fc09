"""classify.safety: nsfwjs' preprocessing, the stored shape, a missing model; the LiteRT conversion when built."""

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classify.model import RUNTIME_LITERT
from classify.safety import (
    SAFETY_CLASSES,
    SafetyInfo,
    SafetyModelUnavailable,
    load_safety_model,
    preprocess_for_safety,
    probabilities_of,
    resize_bilinear_align_corners,
    safety_result,
    served_path_for,
)
from infra.template import REPO_ROOT


def test_resize_with_aligned_corners_keeps_the_corner_pixels_and_interpolates_between():
    # A 2x3 image stretched to 3x3: corners stay, the middle row is the mean of the two rows.
    pixels = np.array([[[0] * 3, [100] * 3, [200] * 3], [[50] * 3, [150] * 3, [250] * 3]], dtype=np.uint8)

    resized = resize_bilinear_align_corners(pixels, 3)

    expected = np.array([[0, 100, 200], [25, 125, 225], [50, 150, 250]], dtype=np.float32) / np.float32(255)
    np.testing.assert_allclose(resized[..., 0], expected, rtol=0, atol=1e-7)
    assert resized.dtype == np.float32 and resized.shape == (3, 3, 3)


def test_preprocessing_matches_tensorflows_bilinear_resize_with_align_corners():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(7)
    for height, width in [(150, 106), (333, 500), (1377, 1836)]:
        pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)

        ours = preprocess_for_safety(Image.fromarray(pixels))

        theirs = tf.compat.v1.image.resize_bilinear(
            tf.constant(pixels[None], tf.float32) / 255.0, [224, 224], align_corners=True
        ).numpy()[0]
        assert ours.shape == (224, 224, 3)
        # TF computes the source grid in float32 (TF.js, which ours follows, in float64): on random noise the
        # two differ by up to ~1e-4; a different grid or interpolation would differ by far more.
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=5e-4)


def test_an_image_of_the_model_size_is_only_scaled():
    pixels = np.random.default_rng(1).integers(0, 256, size=(224, 224, 3), dtype=np.uint8)

    np.testing.assert_array_equal(preprocess_for_safety(Image.fromarray(pixels)), pixels.astype(np.float32) / 255)


def test_a_grey_image_is_treated_as_rgb():
    grey = Image.new("L", (300, 200), 128)

    assert np.allclose(preprocess_for_safety(grey), 128 / 255)


def test_the_stored_result_names_every_class_the_top_one_and_the_model():
    result = safety_result(np.array([0.1, 0.05, 0.6, 0.05, 0.2], dtype=np.float32), SafetyInfo("m", "4.4.0", 224))

    assert result["top_class"] == "neutral"
    assert list(result["probabilities"]) == list(SAFETY_CLASSES)
    assert result["model"] == {"name": "m", "version": "4.4.0"}
    np.testing.assert_allclose(probabilities_of(result), [0.1, 0.05, 0.6, 0.05, 0.2], atol=1e-6)


def test_a_missing_model_is_an_error_where_it_is_required(tmp_path):
    with pytest.raises(SafetyModelUnavailable, match="make models"):
        load_safety_model(str(tmp_path / "nsfwjs_mobilenet_v2.keras"), required=True)


def test_a_missing_model_is_a_loud_warning_where_it_is_allowed(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert load_safety_model(str(tmp_path / "nsfwjs_mobilenet_v2.keras"), required=False) is None

    assert "NO SAFETY MODEL" in caplog.text and "make models" in caplog.text


def test_litert_needs_the_conversion_beside_the_keras_model(tmp_path):
    keras_path = tmp_path / "nsfwjs_mobilenet_v2.keras"

    with pytest.raises(SafetyModelUnavailable, match=r"nsfwjs_mobilenet_v2\.litert\.tflite.*make models"):
        load_safety_model(str(keras_path), required=True, runtime=RUNTIME_LITERT)


BUILT = REPO_ROOT / "models" / "nsfwjs_mobilenet_v2.keras"
needs_built_models = pytest.mark.skipif(
    not (BUILT.is_file() and served_path_for(BUILT).is_file()),
    reason="needs the safety model and its LiteRT conversion (`make models`: node, npm and the nsfwjs package)",
)


def _image_layout(tmp_path: Path) -> Path:
    """What the function image carries: the JSON and the LiteRT conversion with its card, no Keras file."""
    for source in (BUILT.with_suffix(".json"), served_path_for(BUILT), served_path_for(BUILT).with_suffix(".json")):
        shutil.copy(source, tmp_path / source.name)
    return tmp_path / BUILT.name


@needs_built_models
def test_litert_serves_the_conversion_without_the_keras_file_or_tensorflow(tmp_path):
    keras_path = _image_layout(tmp_path)

    model = load_safety_model(str(keras_path), required=True, runtime=RUNTIME_LITERT)

    assert model is not None and not keras_path.exists()
    probabilities = model.predict(np.random.default_rng(0).uniform(0, 1, (3, 224, 224, 3)).astype(np.float32))
    assert probabilities.shape == (3, 5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)  # softmax: five class probabilities


@needs_built_models
def test_litert_refuses_a_conversion_of_another_keras_model(tmp_path):
    keras_path = _image_layout(tmp_path)
    keras_path.write_bytes(b"a rebuilt model")  # the conversion's card names another file's hash

    with pytest.raises(SafetyModelUnavailable, match="make models"):
        load_safety_model(str(keras_path), required=True, runtime=RUNTIME_LITERT)
