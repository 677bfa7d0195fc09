"""The converted safety model answers as the original: nsfwjs' own code in Node, on TensorFlow.js' pure-JS CPU
backend, against classify.safety (our preprocessing + the Keras model `make models` built) under both runtimes:
the Keras model itself (MODEL_RUNTIME=tensorflow) and its LiteRT conversion, which the function image serves.

Both sides get the same pixels: each photo's rendition reduced to the model's 224x224 the way classify reduces
it (Pillow's box filter, area averaging, written to files for Node), so nsfwjs' own resize leaves them as they are and
what is compared is its scaling (pixels / 255) and the model. The photos are upscaled (106x150) and downscaled (up
to 1836x1377), square-ish and not, and span the five classes' range.
The pure-JS backend needs ~1.5 s per photo, so the set is kept small.
"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classify.model import RUNTIME_LITERT, RUNTIME_TENSORFLOW
from classify.rendition import make_rendition
from classify.safety import SAFETY_CLASSES, load_safety_model, served_path_for
from infra.paths import REPO_ROOT
from tests.component.mocked import SAFETY_MODEL

TOOLS = REPO_ROOT / "tools" / "nsfw"
DATA = REPO_ROOT.parent / "shared" / "data"
PHOTOS = [
    DATA / "dog.jpeg",
    DATA / "imagenet-samples" / "n02837789_bikini.JPEG",
    DATA / "imagenet-samples" / "n07920052_espresso.JPEG",
    DATA / "imagenet-samples" / "n03825788_nipple.JPEG",
    DATA / "imagenet-samples" / "n03843555_oil_filter.JPEG",
]
TOLERANCE = 1e-3

pytestmark = pytest.mark.skipif(
    not (
        SAFETY_MODEL.is_file()
        and served_path_for(SAFETY_MODEL).is_file()
        and (TOOLS / "node_modules" / "nsfwjs").is_dir()
        and shutil.which("node")
    ),
    reason="needs node and `make models` (the pinned nsfwjs in tools/nsfw/node_modules and the converted models)",
)


@pytest.fixture(scope="module")
def photos_and_original(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, list[np.ndarray]]:
    """Five photos' model-size pixels, and what nsfwjs in Node gives for them (computed once: ~1.5 s a photo)."""
    images = [make_rendition(photo.read_bytes(), model_size).judged[0] for photo in PHOTOS]
    expected = original_probabilities(tmp_path_factory.mktemp("nsfwjs"), [np.asarray(image) for image in images])
    return images, expected


def model_size(image: Image.Image) -> Image.Image:
    """The rendition reduced as classify.safety.preprocess_for_safety reduces it."""
    return image.convert("RGB").resize((224, 224), Image.Resampling.BOX)


def original_probabilities(tmp_path: Path, pixels: list[np.ndarray]) -> list[np.ndarray]:
    listing = []
    for number, rgb in enumerate(pixels):
        (tmp_path / f"{number}.rgb").write_bytes(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
        listing.append({"path": f"{number}.rgb", "height": rgb.shape[0], "width": rgb.shape[1]})
    (tmp_path / "images.json").write_text(json.dumps(listing), encoding="utf-8")
    done = subprocess.run(
        ["node", str(TOOLS / "reference.js"), "MobileNetV2", str(tmp_path / "images.json"), "cpu"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [row["path"] for row in rows] == [entry["path"] for entry in listing]
    return [np.array([row["probabilities"][name.capitalize()] for name in SAFETY_CLASSES]) for row in rows]


@pytest.mark.parametrize("runtime", [RUNTIME_LITERT, RUNTIME_TENSORFLOW])
def test_converted_model_gives_the_original_probabilities_within_1e_3(photos_and_original, runtime):
    # Given: five photos decoded once, and the original's scores of their pixels in Node
    images, expected = photos_and_original
    model = load_safety_model(str(SAFETY_MODEL), required=True, runtime=runtime)
    assert model is not None and model.info.model_info.model_dump() == {
        "name": "nsfwjs-MobileNetV2",
        "version": "4.4.0",
    }

    # When: ours scores the same pixels in Python, under this runtime
    got = model.predict(np.stack([model.preprocess(image) for image in images]))

    # Then: all five probabilities agree for every photo, and so does the top class
    for photo, want, have in zip(PHOTOS, expected, got, strict=True):
        assert np.abs(want - have).max() <= TOLERANCE, f"{photo.name} ({runtime}): original {want}, converted {have}"
        assert SAFETY_CLASSES[int(want.argmax())] == SAFETY_CLASSES[int(have.argmax())]
    # The set is not trivially "all neutral": the comparison covers a confident sexy and a non-neutral score.
    assert {SAFETY_CLASSES[int(row.argmax())] for row in expected} >= {"neutral", "sexy"}
