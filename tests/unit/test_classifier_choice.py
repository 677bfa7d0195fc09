"""Which ImageNet classifier judges, and how EfficientNet-Lite0 sees a photo: everything that needs no weights.

(The trained model itself: tests/process/test_efficientnet_lite0.py.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classify import efficientnet_lite
from classify.model import EFFICIENTNET_LITE0, RESNET50, ModelUnavailable, load_classifier, load_served_classifier
from classify.served import ModelCard
from classify.settings import ClassifySettings
from infra.build import served_models
from infra.build.served_models import served_model_builds
from infra.functions import LOCAL_ENV_VARS, LOCAL_MODEL_DIR, function_specs, local_model_path
from infra.template import LocalNames, ResolvedTemplate, load_template
from photomod_shared.settings import MissingSetting


def test_preprocess_crops_the_centre_224_of_256_of_the_short_side_then_scales_to_minus_one_one():
    # Given: a 400x300 photo whose central 262x262 square (int(224/256 * 300)) is white, the rest black
    image = Image.new("RGB", (400, 300), (0, 0, 0))
    crop = int(224 / 256 * 300)
    left, top = (400 - crop + 1) // 2, (300 - crop + 1) // 2
    image.paste((255, 255, 255), (left, top, left + crop, top + crop))

    # When
    pixels = efficientnet_lite.preprocess(image)

    # Then: only the white square was kept, as (255 - 127) / 128 (the antialiasing filter reaches a pixel or two
    # past the crop at its edges, as Pillow's box resize does: the outermost rows blend in a little black)
    assert pixels.shape == (224, 224, 3) and pixels.dtype == np.float32
    np.testing.assert_allclose(pixels[3:-3, 3:-3], (255 - 127) / 128, atol=1e-6)
    assert pixels.min() > 0.85


def test_preprocess_maps_black_to_minus_127_over_128_and_reads_rgb_of_any_mode():
    pixels = efficientnet_lite.preprocess(Image.new("L", (224, 500), 0))
    np.testing.assert_allclose(pixels, -127 / 128)


def test_the_architecture_has_16_blocks_in_7_stages_from_32_to_320_channels():
    blocks = efficientnet_lite.blocks()
    assert len(blocks) == 16
    assert blocks[0] == (3, 1, 1, 32, 16) and blocks[-1] == (3, 1, 6, 192, 320)
    assert sum(stride == 2 for _, stride, *_ in blocks) == 4  # 224 -> 7 with the stem's stride 2


def test_a_weights_file_with_another_hash_is_refused(tmp_path: Path):
    path = tmp_path / efficientnet_lite.WEIGHTS_FILE
    path.write_bytes(b"not the weights")
    with pytest.raises(efficientnet_lite.WeightsMismatch, match=efficientnet_lite.WEIGHTS_SHA256):
        efficientnet_lite.verified(path)


def test_the_classifier_setting_names_one_of_the_two(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PREDICTIONS_TABLE", "predictions")
    monkeypatch.setenv("IMAGES_BUCKET", "images")
    monkeypatch.setenv("CLASSIFY_QUEUE_URL", "http://127.0.0.1:4566/123456789012/classify")
    monkeypatch.setenv("CLASSIFIER", "efficientnet-lite0")
    assert ClassifySettings.from_environment().classifier == EFFICIENTNET_LITE0
    monkeypatch.delenv("CLASSIFIER")
    assert ClassifySettings.from_environment().classifier == RESNET50
    monkeypatch.setenv("CLASSIFIER", "vgg16")
    with pytest.raises(MissingSetting, match="CLASSIFIER is invalid .*must be one of resnet50, efficientnet-lite0"):
        ClassifySettings.from_environment()


def test_an_unknown_classifier_is_refused_by_name():
    with pytest.raises(ModelUnavailable, match="unknown classifier 'vgg16'"):
        load_classifier("litert", None, False, "models/x.tflite", classifier="vgg16")


def test_a_served_model_of_the_other_network_is_refused(tmp_path: Path):
    # Given: SERVED_MODEL_PATH names ResNet50's conversion but CLASSIFIER says EfficientNet-Lite0
    model = tmp_path / "resnet50.tflite"
    model.write_bytes(b"")
    ModelCard(name="ResNet50", weights="imagenet", source="sha256:0").write(model)

    with pytest.raises(ModelUnavailable, match="is ResNet50, not EfficientNet-Lite0"):
        load_served_classifier(model, allow_untrained=False, classifier=EFFICIENTNET_LITE0)


def _classify_spec(parameters: dict[str, str]) -> dict[str, str]:
    import json

    template = ResolvedTemplate(load_template(), LocalNames(parameter_overrides=parameters))
    overrides = json.loads(LOCAL_ENV_VARS.read_text())
    return function_specs(template, {}, overrides)["ClassifyFunction"].environment


@pytest.mark.parametrize("classifier", [RESNET50, EFFICIENTNET_LITE0])
def test_one_template_parameter_picks_the_classifier_and_its_converted_model(classifier: str):
    environment = _classify_spec({"Classifier": classifier})

    assert environment["CLASSIFIER"] == classifier
    # The image's /opt/ml/model/<classifier>.tflite is served locally from models/
    assert environment["SERVED_MODEL_PATH"] == str(LOCAL_MODEL_DIR / f"{classifier}.tflite")
    [(built, _, served)] = served_model_builds([_spec(environment)])
    assert (built, served) == (classifier, environment["SERVED_MODEL_PATH"])


def _spec(environment: dict[str, str]):  # type: ignore[no-untyped-def]
    from infra.functions import FunctionSpec

    return FunctionSpec("ClassifyFunction", "f", "arn", "h", [], environment, 3, 128)


def test_only_the_images_model_directory_is_mapped_to_models():
    assert local_model_path("/opt/ml/model/efficientnet-lite0.tflite") == str(
        LOCAL_MODEL_DIR / "efficientnet-lite0.tflite"
    )
    assert local_model_path("/opt/ml/other") == "/opt/ml/other"
    assert local_model_path("litert") == "litert"


def test_a_local_stack_without_resnet50s_weights_judges_with_efficientnet(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(served_models, "RESNET50_WEIGHTS", tmp_path / "missing.h5")
    classifier, note = served_models.local_classifier()
    assert classifier == EFFICIENTNET_LITE0
    assert "CLASSIFIER=resnet50" in note and "untrained" in note


def test_a_local_stack_with_resnet50s_weights_judges_with_resnet50(tmp_path: Path, monkeypatch):
    weights = tmp_path / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    weights.write_bytes(b"h5")
    monkeypatch.setattr(served_models, "RESNET50_WEIGHTS", weights)
    assert served_models.local_classifier()[0] == RESNET50
