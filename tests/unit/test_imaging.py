"""classify.imaging: every corpus case gets its outcome, and preprocessing matches Keras' ResNet50 pipeline."""

from __future__ import annotations

import contextlib
import io
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from classify.imaging import (
    RESIZE_METHODS,
    SUPPORTED_FORMATS,
    ImageLimits,
    ImageRejected,
    decode_and_preprocess,
    decode_image,
    preprocess,
)
from tests.support.imagecorpus import CorpusCase, black_1bit_png, build_corpus
from tests.support.images import encoded

DATA = Path("/work/shared/data")
CORPUS = build_corpus()
CASES = {case.name: case for case in CORPUS}


def _rgb(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    red, green, blue = np.asarray(image)[y, x].tolist()
    return red, green, blue


def _rejection(data: bytes, limits: ImageLimits = ImageLimits()) -> ImageRejected:  # noqa: B008 - frozen
    with pytest.raises(ImageRejected) as caught:
        decode_image(data, limits)
    return caught.value


PNG_100X80 = encoded(Image.new("RGB", (100, 80)), "PNG")


# --- the corpus --------------------------------------------------------------------------------------------


def test_corpus_is_large_varied_and_uniquely_named() -> None:
    assert len(CORPUS) >= 30
    assert len(CASES) == len(CORPUS)
    statuses = {(case.expected_status, case.expected_code) for case in CORPUS}
    assert statuses >= {
        ("done", None),
        ("failed", "empty_file"),
        ("failed", "unsupported_format"),
        ("failed", "corrupt_image"),
        ("failed", "too_small"),
        ("failed", "too_large"),
        ("failed", "decompression_bomb"),
    }


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_corpus_case_gets_its_expected_outcome(case: CorpusCase) -> None:
    if case.expected_status == "done":
        pixels = decode_and_preprocess(case.data)
        assert pixels.shape == (224, 224, 3)
        assert pixels.dtype == np.float32
        assert np.isfinite(pixels).all()
    else:
        with pytest.raises(ImageRejected) as caught:
            decode_and_preprocess(case.data)
        assert caught.value.code == case.expected_code, caught.value.message
        assert caught.value.message
        assert "BytesIO" not in caught.value.message


def test_every_supported_format_appears_in_the_corpus() -> None:
    formats = {decode_image_format(case.data) for case in CORPUS if case.expected_status == "done"}
    expected = SUPPORTED_FORMATS if "heic" in CASES else SUPPORTED_FORMATS - {"HEIF"}
    assert formats == expected


def decode_image_format(data: bytes) -> str | None:
    decode_image(data)  # also registers the HEIF opener when needed
    return Image.open(io.BytesIO(data)).format


# --- parity with the Keras pipeline the model was validated with ------------------------------------------

PARITY_IMAGES = [
    DATA / "dog.jpeg",
    DATA / "imagenet-samples" / "n02099601_golden_retriever.JPEG",
    DATA / "imagenet-samples" / "n01644373_tree_frog.JPEG",
    DATA / "imagenet-samples" / "n01871265_tusker.JPEG",
    DATA / "imagenet-samples" / "n04356056_sunglasses.JPEG",  # stored as grayscale (mode L)
]


@pytest.fixture(scope="module")
def keras():  # type: ignore[no-untyped-def]
    return pytest.importorskip("keras")


def _keras_pipeline(keras, path: Path, interpolation: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    image = keras.utils.load_img(str(path), target_size=(224, 224), interpolation=interpolation)
    return keras.applications.resnet50.preprocess_input(keras.utils.img_to_array(image))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("path", PARITY_IMAGES, ids=[path.name for path in PARITY_IMAGES])
def test_preprocessing_equals_the_keras_resnet50_pipeline(keras, path: Path, interpolation: str) -> None:  # type: ignore[no-untyped-def]
    if not path.exists():
        pytest.skip(f"{path} is not available")
    expected = _keras_pipeline(keras, path, interpolation)

    actual = preprocess(decode_image(path.read_bytes()), resize_method=interpolation)

    assert actual.dtype == expected.dtype == np.float32
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("method", RESIZE_METHODS)
def test_every_resize_method_equals_keras(keras, method: str) -> None:  # type: ignore[no-untyped-def]
    path = DATA / "dog.jpeg"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    np.testing.assert_array_equal(
        preprocess(decode_image(path.read_bytes()), resize_method=method), _keras_pipeline(keras, path, method)
    )


def test_preprocess_is_bgr_minus_the_caffe_mean() -> None:
    image = Image.new("RGB", (224, 224), (10, 20, 30))

    pixels = preprocess(image)

    np.testing.assert_allclose(pixels[0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], atol=1e-4)


def test_preprocess_size_is_height_then_width_like_keras() -> None:
    assert preprocess(Image.new("RGB", (50, 40)), size=(100, 300)).shape == (100, 300, 3)


@pytest.mark.parametrize("method", RESIZE_METHODS)
def test_preprocess_accepts_every_listed_resize_method(method: str) -> None:
    pixels = preprocess(Image.new("RGB", (300, 200), (1, 2, 3)), resize_method=method)
    assert pixels.shape == (224, 224, 3)
    assert pixels.dtype == np.float32


def test_preprocess_rejects_an_unknown_resize_method_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError) as caught:
        preprocess(Image.new("RGB", (64, 64)), resize_method="area")
    assert "'area'" in str(caught.value)
    for method in RESIZE_METHODS:
        assert method in str(caught.value)


def test_decode_and_preprocess_rejects_a_bad_resize_method_before_decoding() -> None:
    with pytest.raises(ValueError, match="resize method"):
        decode_and_preprocess(b"", resize_method="cubic")


def test_preprocess_converts_a_non_rgb_image_itself() -> None:
    pixels = preprocess(Image.new("LA", (64, 64), (0, 0)))
    np.testing.assert_allclose(pixels[0, 0], [255 - 103.939, 255 - 116.779, 255 - 123.68], atol=1e-4)


# --- orientation, transparency and bit depth -----------------------------------------------------------


def test_exif_orientation_6_rotates_the_image_clockwise() -> None:
    # Stored 96x48 with the left half red and the right half blue; displayed, it is 48x96 with red on top.
    image = decode_image(CASES["jpeg_exif_orientation_6"].data)

    assert image.size == (48, 96)
    red, green, blue = _rgb(image, 24, 10)
    assert red > 200 and green < 50 and blue < 50
    red, green, blue = _rgb(image, 24, 85)
    assert red < 50 and green < 50 and blue > 200


def test_transparent_rgba_pixels_become_white_and_partial_alpha_blends_onto_white() -> None:
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image.putpixel((1, 1), (255, 0, 0, 128))
    image.putpixel((2, 2), (0, 0, 255, 255))

    decoded = decode_image(encoded(image, "PNG"))

    assert decoded.mode == "RGB"
    assert decoded.getpixel((0, 0)) == (255, 255, 255)
    assert decoded.getpixel((1, 1)) == (255, 127, 127)
    assert decoded.getpixel((2, 2)) == (0, 0, 255)


def test_transparent_palette_index_becomes_white() -> None:
    image = Image.new("P", (64, 64), 0)
    image.putpalette([0, 0, 0, 200, 10, 10] + [0, 0, 0] * 254)
    image.putpixel((5, 5), 1)

    decoded = decode_image(encoded(image, "PNG", transparency=0))

    assert decoded.getpixel((0, 0)) == (255, 255, 255)
    assert decoded.getpixel((5, 5)) == (200, 10, 10)


def test_transparent_grayscale_with_alpha_becomes_white() -> None:
    decoded = decode_image(encoded(Image.new("LA", (40, 40), (0, 0)), "PNG"))
    assert decoded.getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(("sample", "gray"), [(0, 0), (32896, 128), (65535, 255)])
def test_16_bit_grayscale_is_scaled_not_clipped(sample: int, gray: int) -> None:
    image = Image.fromarray(np.full((40, 40), sample, dtype=np.uint16))
    assert image.mode == "I;16"

    decoded = decode_image(encoded(image, "PNG"))

    assert decoded.getpixel((0, 0)) == (gray, gray, gray)


def test_16_bit_mid_gray_maps_to_mid_gray() -> None:
    decoded = decode_image(encoded(Image.fromarray(np.full((40, 40), 32768, dtype=np.uint16)), "PNG"))
    assert decoded.getpixel((0, 0)) == (128, 128, 128)


def test_float_image_in_unit_range_is_scaled_to_8_bits() -> None:
    decoded = decode_image(encoded(Image.fromarray(np.full((40, 40), 0.5, dtype=np.float32)), "TIFF"))
    assert decoded.getpixel((0, 0)) == (128, 128, 128)


def test_cmyk_jpeg_keeps_its_colours() -> None:
    data = encoded(Image.new("RGB", (64, 64), (200, 60, 20)).convert("CMYK"), "JPEG", quality=95)

    red, green, blue = _rgb(decode_image(data), 32, 32)

    assert abs(red - 200) <= 6 and abs(green - 60) <= 6 and abs(blue - 20) <= 6


@pytest.mark.parametrize("name", ["gif_animated_3_frames", "webp_animated_3_frames"])
def test_animation_decodes_its_first_frame(name: str) -> None:
    red, green, blue = _rgb(decode_image(CASES[name].data), 24, 24)
    assert red > 200 and green < 50 and blue < 50


def test_heic_decodes_to_rgb() -> None:
    if "heic" not in CASES:
        pytest.skip("pillow-heif cannot encode HEIC here")
    image = decode_image(CASES["heic"].data)
    assert image.mode == "RGB"
    assert image.size == (320, 240)


def test_heic_orientation_is_applied_exactly_once() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("pillow-heif cannot encode HEIC here")
    stored = Image.new("RGB", (96, 48), (255, 0, 0))
    stored.paste((0, 0, 255), (48, 0, 96, 48))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    pillow_heif.from_pillow(stored).save(buffer, quality=90, exif=exif.tobytes())

    image = decode_image(buffer.getvalue())

    assert image.size == (48, 96)
    assert _rgb(image, 24, 10)[0] > 200
    assert _rgb(image, 24, 85)[2] > 200


# --- limits, bombs and messages --------------------------------------------------------------------------


@pytest.fixture
def load_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every attempt to decode pixels."""
    calls: list[str] = []
    for cls in (Image.Image, ImageFile.ImageFile):
        original = cls.load

        def recording_load(self, _original=original):  # type: ignore[no-untyped-def]
            calls.append(type(self).__name__)
            return _original(self)

        monkeypatch.setattr(cls, "load", recording_load)
    return calls


@pytest.mark.parametrize("name", [case.name for case in CORPUS if case.expected_code == "decompression_bomb"])
def test_bomb_is_refused_from_its_header_without_decoding(name: str, load_calls: list[str]) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        rejection = _rejection(CASES[name].data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert rejection.code == "decompression_bomb"
    assert load_calls == []
    assert peak < 2 * 1024 * 1024
    assert time.perf_counter() - started < 1.0


def test_our_pixel_limit_applies_below_pillows_and_says_the_numbers(load_calls: list[str]) -> None:
    rejection = _rejection(PNG_100X80, ImageLimits(max_pixels=5000))

    assert rejection.code == "decompression_bomb"
    assert rejection.message == "image is 100x80 = 8000 pixels; the limit is 5000"
    assert load_calls == []


def test_pillows_bomb_warning_is_a_rejection_even_when_our_limit_is_higher(load_calls: list[str]) -> None:
    # 100 Mpx is between Pillow's warning (89.5 Mpx) and error (179 Mpx) thresholds.
    rejection = _rejection(black_1bit_png(10_000), ImageLimits(max_pixels=150_000_000))

    assert rejection.code == "decompression_bomb"
    assert "10000x10000 = 100000000 pixels" in rejection.message
    assert load_calls == []


def test_decoding_leaves_pillows_global_limit_and_warning_filters_alone() -> None:
    limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)

    for case in CORPUS:
        with contextlib.suppress(ImageRejected):
            decode_image(case.data)

    assert limit == Image.MAX_IMAGE_PIXELS
    assert warnings.filters == filters


def test_the_default_bomb_message_is_readable() -> None:
    rejection = _rejection(CASES["png_bomb_8000x8000_1bit"].data)
    assert rejection.message == "image is 8000x8000 = 64000000 pixels; the limit is 40000000"


def test_too_large_is_decided_from_the_byte_count() -> None:
    data = CASES["jpeg_rgb"].data

    rejection = _rejection(data, ImageLimits(max_bytes=len(data) - 1))

    assert rejection.code == "too_large"
    assert rejection.message == f"the file is {len(data)} bytes; the limit is {len(data) - 1} bytes"
    decode_image(data, ImageLimits(max_bytes=len(data)))  # exactly at the limit is fine


def test_too_small_names_the_size_and_the_minimum() -> None:
    rejection = _rejection(CASES["jpeg_10x10"].data)
    assert rejection.code == "too_small"
    assert rejection.message == "image is 10x10 pixels; both sides must be at least 32 pixels"


def test_min_side_is_configurable() -> None:
    assert _rejection(CASES["jpeg_rgb"].data, ImageLimits(min_side=241)).code == "too_small"  # 320x240


def test_format_comes_from_the_bytes_not_the_content_type() -> None:
    assert decode_image(CASES["jpeg_sent_as_png"].data).size == (320, 240)
    assert _rejection(b"%PDF-1.4 pretending to be a .jpg").code == "unsupported_format"


def test_rejection_carries_code_and_message() -> None:
    rejection = ImageRejected("corrupt_image", "the file looks like PNG but cannot be decoded")
    assert rejection.code == "corrupt_image"
    assert rejection.message == str(rejection) == "the file looks like PNG but cannot be decoded"


@pytest.mark.parametrize("field", ["max_bytes", "min_side", "max_pixels"])
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ImageLimits(**{field: 0})


# --- robustness --------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the garbled TIFF tags it skips
def test_mutated_images_only_ever_raise_image_rejected() -> None:
    """A small seeded fuzz: flipped bytes, truncations and garbled headers never crash or hang."""
    rng = np.random.default_rng(2024)
    seeds = [case.data for case in CORPUS if case.expected_status == "done" and len(case.data) < 100_000]
    started = time.perf_counter()
    for _ in range(600):
        data = bytearray(seeds[rng.integers(len(seeds))])
        mutation = rng.integers(3)
        if mutation == 0:
            for position in rng.integers(len(data), size=rng.integers(1, 8)):
                data[position] = rng.integers(256)
        elif mutation == 1:
            del data[rng.integers(1, len(data)) :]
        else:
            position = rng.integers(min(len(data), 200))
            data[position : position + 4] = rng.bytes(4)
        with contextlib.suppress(ImageRejected):
            decode_and_preprocess(bytes(data))
    assert time.perf_counter() - started < 30
