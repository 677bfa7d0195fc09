"""classify.rendition: a wide-gamut photo (Display P3, Adobe RGB) is shown and judged in sRGB, by its colours.

The expected values come from the colour spaces' primaries (tests.support.icc), not from LittleCMS: a rendition that
dropped the profile without converting would keep the source numbers, which show the wrong colours in sRGB.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from classify.rendition import make_rendition
from tests.support.icc import ADOBE_RGB, DISPLAY_P3, linear_to_srgb_matrix, matrix_profile, srgb_decode, srgb_encode

SOURCE = (200, 120, 60)  # a skin-like tone inside both gamuts: its sRGB numbers differ by 10-20 levels
TOLERANCE = 3  # JPEG quality 92 with full chroma on a flat patch, plus LittleCMS' rounding


def wide_gamut_photo(primaries: tuple[tuple[float, float], ...], name: str, image_format: str) -> bytes:
    image = Image.new("RGB", (64, 48), SOURCE)
    buffer = io.BytesIO()
    options = {"quality": 95, "subsampling": 0} if image_format == "JPEG" else {}
    image.save(buffer, image_format, icc_profile=matrix_profile(primaries, name), **options)
    return buffer.getvalue()


def expected_srgb(primaries: tuple[tuple[float, float], ...]) -> np.ndarray:
    return srgb_encode(linear_to_srgb_matrix(primaries) @ srgb_decode(np.array(SOURCE, dtype=float)))


def centre(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=float)[16:32, 24:40].reshape(-1, 3).mean(axis=0)


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
@pytest.mark.parametrize(("primaries", "name"), [(DISPLAY_P3, "Display P3"), (ADOBE_RGB, "Adobe RGB (1998)")])
def test_a_wide_gamut_photo_is_converted_to_srgb_for_shoppers_and_models(
    primaries: tuple[tuple[float, float], ...], name: str, image_format: str
) -> None:
    # Given a photo whose numbers mean colours in a wide-gamut space (its embedded profile says which)
    upload = wide_gamut_photo(primaries, name, image_format)
    expected = expected_srgb(primaries)
    assert np.abs(expected - np.array(SOURCE)).max() > 4 * TOLERANCE  # the conversion is visible at this tolerance
    seen: list[np.ndarray] = []

    # When its rendition is made
    rendition = make_rendition(upload, lambda image: seen.append(centre(image)) or image.mode)

    # Then the served JPEG carries sRGB numbers for the same colours (and no profile to reinterpret them)
    with Image.open(io.BytesIO(rendition.data)) as served:
        served.load()
        assert "icc_profile" not in served.info
        assert np.abs(centre(served) - expected).max() <= TOLERANCE, (centre(served), expected)
    # And the models were handed exactly those converted pixels
    assert len(seen) == 1
    assert np.abs(seen[0] - expected).max() <= TOLERANCE, (seen[0], expected)
