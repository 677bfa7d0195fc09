"""The JPEG draft rule of classify.imaging: large JPEGs are decoded at a reduced scale that never takes a pixel
the model sees outside the value range of the cell Keras' own nearest resize samples from."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.draft_rule import keras_cell_ranges
from classify.imaging import DRAFT_FACTOR, MODEL_INPUT_SIZE, decode_and_preprocess, decode_image, preprocess
from tests.support.images import encoded

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
DRAFT_TO = (DRAFT_FACTOR * MODEL_INPUT_SIZE[1], DRAFT_FACTOR * MODEL_INPUT_SIZE[0])
# The sample photos large enough to be drafted, and the photos phone photos are made from.
LARGE_SAMPLES = ["n03109150_corkscrew.JPEG", "n03617480_kimono.JPEG", "n03843555_oil_filter.JPEG"]
PHONE_SOURCES = ["n02099601_golden_retriever.JPEG", "n02113186_Cardigan.JPEG", "n01682714_American_chameleon.JPEG"]


def _phone_photo(name: str) -> bytes:
    """A 12-MP phone photo: a sample photo upscaled to 4000x3000, JPEG quality 90 (as the benchmark makes them)."""
    with Image.open(DATA / "imagenet-samples" / name) as image:
        return encoded(image.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC), "JPEG", quality=90)


def test_a_12_mp_jpeg_is_decoded_at_a_quarter_scale_which_keeps_twice_the_input() -> None:
    photo = _phone_photo(PHONE_SOURCES[0])

    assert decode_image(photo).size == (4000, 3000)
    assert decode_image(photo, draft_to=DRAFT_TO).size == (1000, 750)  # 1/8 would give 500x375: under 448
    assert decode_and_preprocess(photo).shape == (*MODEL_INPUT_SIZE, 3)


@pytest.mark.parametrize(
    ("size", "drafted"),
    [((895, 2000), (895, 2000)), ((896, 896), (448, 448)), ((1800, 1400), (900, 700)), ((7000, 3600), (875, 450))],
)
def test_the_draft_never_takes_a_side_under_twice_the_input(size: tuple[int, int], drafted: tuple[int, int]) -> None:
    photo = encoded(Image.new("RGB", size, (90, 140, 200)), "JPEG", quality=90)

    assert decode_image(photo, draft_to=DRAFT_TO).size == drafted


def test_a_rotated_phone_photo_is_drafted_then_turned_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    photo = encoded(Image.new("RGB", (4000, 3000), (10, 200, 30)), "JPEG", quality=90, exif=exif)

    assert decode_image(photo, draft_to=DRAFT_TO).size == (750, 1000)


def test_other_formats_are_decoded_in_full() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (2000, 1500), (1, 2, 3)).save(buffer, format="PNG")

    assert decode_image(buffer.getvalue(), draft_to=DRAFT_TO).size == (2000, 1500)


@pytest.mark.parametrize("source", ["phone:" + name for name in PHONE_SOURCES] + LARGE_SAMPLES)
def test_every_pixel_the_model_sees_stays_within_the_cell_keras_samples_from(source: str) -> None:
    if source.startswith("phone:"):
        photo = _phone_photo(source.removeprefix("phone:"))
    else:
        photo = (DATA / "imagenet-samples" / source).read_bytes()
    full = np.asarray(decode_image(photo)).astype(np.int16)
    drafted_image = decode_image(photo, draft_to=DRAFT_TO)
    assert drafted_image.size != (full.shape[1], full.shape[0]), "the photo must be large enough to be drafted"

    low, high = keras_cell_ranges(full, MODEL_INPUT_SIZE)
    seen = np.asarray(drafted_image.resize(MODEL_INPUT_SIZE[::-1], Image.Resampling.NEAREST)).astype(np.int16)
    excess = np.maximum(low - seen, seen - high).clip(0)

    # At most 2 levels outside the cell's range (libjpeg's scaled IDCT rounds), and almost never.
    assert excess.max() <= 2
    assert (excess > 0).mean() < 1e-3
    # And the model input is exactly the preprocessing of that drafted image.
    np.testing.assert_array_equal(decode_and_preprocess(photo), preprocess(drafted_image))
