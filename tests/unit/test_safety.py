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
    safety_result,
    served_path_for,
)
from infra.paths import REPO_ROOT


def test_every_source_pixel_counts_in_the_safety_models_input():
    # Given: a 2240x2240 grey photo; changing one 10x10 block in its middle
    pixels = np.full((2240, 2240, 3), 100, dtype=np.uint8)
    changed = pixels.copy()
    changed[1115:1125, 1115:1125] = 255

    before, after = preprocess_for_safety(Image.fromarray(pixels)), preprocess_for_safety(Image.fromarray(changed))

    # Then: the reduction weighs all 100 pixels in, in proportion (a sampling resize reads a few of them or none)
    assert before.shape == (224, 224, 3) and after.dtype == np.float32
    assert (after - before).max() > 0
    np.testing.assert_allclose(after.sum() - before.sum(), 100 * 3 * 155 / 255 / 100, rtol=0.05)


def test_an_image_of_the_model_size_is_only_scaled():
    pixels = np.random.default_rng(1).integers(0, 256, size=(224, 224, 3), dtype=np.uint8)

    np.testing.assert_array_equal(preprocess_for_safety(Image.fromarray(pixels)), pixels.astype(np.float32) / 255)


def test_a_grey_image_is_treated_as_rgb():
    grey = Image.new("L", (300, 200), 128)

    assert np.allclose(preprocess_for_safety(grey), 128 / 255)


def test_the_stored_result_names_every_class_the_top_one_and_the_model():
    result = safety_result(np.array([0.1, 0.05, 0.6, 0.05, 0.2], dtype=np.float32), SafetyInfo("m", "4.4.0", 224))

    stored = result.model_dump()
    assert stored["top_class"] == "neutral"
    assert list(stored["probabilities"]) == list(SAFETY_CLASSES)
    assert stored["model"] == {"name": "m", "version": "4.4.0"}
    assert stored["second_opinion"] is None  # given as null: no second opinion was asked for
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
