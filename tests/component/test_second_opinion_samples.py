"""Issue 23's measure on the sample photos, with both served models: the combined rule blocks no ordinary photo,
reviews no more of them than nsfwjs alone, and sends at least as many swimwear/underwear samples to review.

Only the explicit category is judged (bench.evaluate_second_opinion, what `make eval` prints): ResNet50 is untrained
on these machines, so the ImageNet swimwear category cannot be counted on.
"""

import json

import numpy as np
import pytest

from bench.evaluate_second_opinion import SWIMWEAR_CATEGORY, Scored, named_photos, policies, summarise
from classify.imaging import decode_image
from classify.labels import ClassIndex
from classify.model import RUNTIME_LITERT
from classify.open_nsfw import load_open_nsfw
from classify.policy import DEFAULT_POLICY_PATH, ModerationPolicy
from classify.safety import load_safety_model
from infra.paths import REPO_ROOT

SAMPLES = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"
MODELS = REPO_ROOT / "models"

pytestmark = pytest.mark.skipif(
    not (
        SAMPLES.is_dir()
        and (MODELS / "open_nsfw.onnx").is_file()
        and (MODELS / "nsfwjs_mobilenet_v2.litert.tflite").is_file()
    ),
    reason="needs the sample photos in ../shared/data and `make models` (both explicit-content models)",
)


@pytest.fixture(scope="module")
def scored() -> list[Scored]:
    safety = load_safety_model(str(MODELS / "nsfwjs_mobilenet_v2.keras"), required=True, runtime=RUNTIME_LITERT)
    second = load_open_nsfw(str(MODELS / "open_nsfw.onnx"), required=True)
    assert safety is not None and second is not None
    document = json.loads(DEFAULT_POLICY_PATH.read_text())
    swimwear = {entry["wnid"] for entry in document["categories"][SWIMWEAR_CATEGORY]["classes"]}
    photos = named_photos(SAMPLES, swimwear)
    rows = []
    for start in range(0, len(photos), 16):
        chunk = photos[start : start + 16]
        images = [decode_image(path.read_bytes()) for path, _ in chunk]
        nsfwjs = safety.predict(np.stack([safety.preprocess(image) for image in images]))
        yahoo = second.predict(np.stack([second.preprocess(image) for image in images]))
        rows += [
            Scored(path.name, group, row, float(score))
            for (path, group), row, score in zip(chunk, nsfwjs, yahoo, strict=True)
        ]
    return rows


def test_the_combined_rule_blocks_no_ordinary_sample_and_reviews_no_more_than_nsfwjs_alone(scored, class_index):
    policy = ModerationPolicy.from_file(class_index=class_index)
    results = {name: summarise(scored, decide) for name, decide in policies(policy, class_index).items()}
    both, alone = results[f"combined {policy.version}"], results["nsfwjs alone"]

    assert both["ordinary"] >= 100 and both["swimwear"] == 5
    assert both["false_blocks"] == []
    assert len(both["false_reviews"]) <= len(alone["false_reviews"])
    assert set(both["false_reviews"]) <= set(alone["false_reviews"])
    assert len(both["swimwear_reaching_review"]) >= len(alone["swimwear_reaching_review"])
    # Open-NSFW alone would block an ordinary photo (the miniskirt, 0.95): it must never block on its own.
    assert results["Open-NSFW alone"]["false_blocks"] and not both["false_blocks"]


@pytest.fixture(scope="module")
def class_index() -> ClassIndex:
    return ClassIndex.from_file()
