"""classify.imaging on the largest photos the limits allow: decode memory stays within the estimate the decode
budget admits them by, with no float64 copy of a 16-bit or alpha photo.

Real pathological files are generated here (40 MP, under the 10 MB upload limit). Each decode runs in a fresh
interpreter, so its peak resident memory (VmHWM) is its own.
"""

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classify.imaging import ImageLimits, estimated_decode_bytes

LIMITS = ImageLimits()
MIB = 1024 * 1024
# 7744 x 5164 = 39,990,016 pixels: just under the 40 MP limit.
WIDTH, HEIGHT = 7744, 5164
# What the interpreter and decoder libraries allocate on first use beyond the per-pixel estimate.
DECODER_SLACK = 32 * MIB

MEASURE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    from classify.imaging import decode_and_preprocess
    def peak_rss():  # VmHWM belongs to this program's memory map (ru_maxrss would include the forking parent's)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    data = Path(sys.argv[1]).read_bytes()
    before = peak_rss()
    pixels = decode_and_preprocess(data)
    after = peak_rss()
    print(json.dumps({"peak_growth": after - before, "shape": list(pixels.shape),
                      "dtype": str(pixels.dtype), "finite": bool(np.isfinite(pixels).all())}))
    """
)


def decode_in_fresh_process(path: Path) -> dict:
    paths = [str(Path(__file__).resolve().parents[2] / "functions" / part) for part in ("classify", "shared")]
    completed = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={"PYTHONPATH": ":".join(paths), "PATH": "/usr/bin:/bin"},
    )
    return json.loads(completed.stdout)


def gradient(dtype: type, top: int) -> np.ndarray:
    """A smooth diagonal ramp: real pixel data that PNG/JPEG compress far under the 10 MB limit."""
    rows = np.linspace(0, top // 2, HEIGHT, dtype=np.float64)[:, None]
    columns = np.linspace(0, top // 2, WIDTH, dtype=np.float64)[None, :]
    return (rows + columns).astype(dtype)


@pytest.fixture(scope="module")
def sixteen_bit_png(tmp_path_factory) -> Path:
    image = Image.fromarray(gradient(np.uint16, 65535))
    assert image.mode == "I;16"
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=6)
    path = tmp_path_factory.mktemp("pathological") / "40mp-16bit.png"
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture(scope="module")
def alpha_png(tmp_path_factory) -> Path:
    ramp = gradient(np.uint8, 255)
    image = Image.fromarray(np.dstack([ramp, ramp[::-1], np.full_like(ramp, 90), ramp]))  # alpha varies
    assert image.mode == "RGBA"
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=6)
    path = tmp_path_factory.mktemp("pathological") / "40mp-rgba.png"
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture(scope="module")
def forty_megapixel_jpeg(tmp_path_factory) -> Path:
    ramp = gradient(np.uint8, 255)
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([ramp, ramp[::-1], np.full_like(ramp, 90)])).save(buffer, "JPEG", quality=90)
    path = tmp_path_factory.mktemp("pathological") / "40mp.jpg"
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture(scope="module")
def progressive_jpeg(tmp_path_factory) -> Path:
    ramp = gradient(np.uint8, 255)
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([ramp[::-1], ramp, np.full_like(ramp, 40)])).save(
        buffer, "JPEG", quality=90, progressive=True
    )
    path = tmp_path_factory.mktemp("pathological") / "40mp-progressive.jpg"
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("photo", ["sixteen_bit_png", "alpha_png", "forty_megapixel_jpeg", "progressive_jpeg"])
def test_the_largest_allowed_photos_decode_within_their_estimate(photo, request):
    path: Path = request.getfixturevalue(photo)
    data = path.read_bytes()
    assert len(data) <= LIMITS.max_bytes, "the generated file must be one the upload limits accept"
    with Image.open(path) as image:
        assert image.size[0] * image.size[1] <= LIMITS.max_pixels

    measured = decode_in_fresh_process(path)

    assert measured["shape"] == [224, 224, 3] and measured["dtype"] == "float32" and measured["finite"]
    estimate = estimated_decode_bytes(data)
    assert measured["peak_growth"] <= estimate + DECODER_SLACK, (
        f"{photo}: decoding grew the process by {measured['peak_growth'] / MIB:.0f} MiB; "
        f"the decode budget admits it at {estimate / MIB:.0f} MiB"
    )


def test_a_sixteen_bit_photo_needs_no_full_size_float_copy(sixteen_bit_png):
    # One float64 copy of 40 MP is 320 MB: the old conversion made several.
    measured = decode_in_fresh_process(sixteen_bit_png)

    assert measured["peak_growth"] < WIDTH * HEIGHT * 8


def test_the_estimate_covers_the_decoded_image_and_its_conversions():
    def jpeg(progressive: bool) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (100, 50)).save(buffer, "JPEG", progressive=progressive)
        return buffer.getvalue()

    def png(mode: str, size=(100, 50)) -> bytes:
        buffer = io.BytesIO()
        Image.new(mode, size).save(buffer, "PNG")
        return buffer.getvalue()

    assert estimated_decode_bytes(png("RGB")) == 100 * 50 * 3
    assert estimated_decode_bytes(jpeg(progressive=True)) > estimated_decode_bytes(jpeg(progressive=False))
    assert estimated_decode_bytes(png("L")) == 100 * 50 * (1 + 3)
    assert estimated_decode_bytes(png("RGBA")) > 100 * 50 * (4 + 3)
    assert estimated_decode_bytes(png("I;16")) >= 100 * 50 * (2 + 1 + 3)
    assert estimated_decode_bytes(b"not an image") == 0


def test_a_decompression_bomb_is_estimated_at_nothing_and_never_raises():
    """Pillow refuses to even open an image over twice its pixel limit; the decoder rejects it by code."""
    buffer = io.BytesIO()
    Image.new("1", (14000, 14000)).save(buffer, "PNG")

    assert estimated_decode_bytes(buffer.getvalue()) == 0
