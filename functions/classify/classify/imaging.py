"""Turn untrusted upload bytes into the array ResNet50 expects, or a readable rejection.

Pure domain code: Pillow and numpy only. TensorFlow/Keras is deliberately not imported so the module stays
cheap to import; `preprocess` reproduces Keras' ResNet50 pipeline in numpy, bit for bit.
"""

from __future__ import annotations

import contextlib
import functools
import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from photomod_shared.formats import AVIF_BRANDS, SUPPORTED_IN_WORDS, sniff_image_format

RESIZE_METHODS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")

_RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}

# Pillow's filters other than nearest cover the whole source when they reduce (their support grows with the scale),
# so every source pixel counts in the model's input: no attacker can plant the few pixels a sampling resize reads
# (the image-scaling attack). Nearest stays listed only to reproduce Keras' own pipelines; classify refuses it.
ANTIALIASED_RESIZE_METHODS = ("bilinear", "bicubic", "lanczos", "box", "hamming")
DEFAULT_RESIZE_METHOD = "bilinear"
MODEL_INPUT_SIZE = (224, 224)  # (height, width), as in Keras

# EXIF orientation -> the transpose that turns the stored pixels upright (as ImageOps.exif_transpose).
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# keras.applications.resnet50.preprocess_input ("caffe" mode), in BGR order.
_CAFFE_BGR_MEAN = np.array([103.939, 116.779, 123.68], dtype=np.float32)

# Everything Pillow's (and pillow-heif's) decoders are known to raise on hostile or broken input.
_DECODER_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    EOFError,
    struct.error,
    OverflowError,
    ZeroDivisionError,
    RuntimeError,
)


class ImageRejected(Exception):
    """Raised for an image that can never be classified."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ImageRejected(code={self.code!r}, message={self.message!r})"


@dataclass(frozen=True)
class ImageLimits:
    """What an upload may be before any pixel is decoded."""

    max_bytes: int = 10 * 1024 * 1024
    min_side: int = 32
    max_pixels: int = 40_000_000

    def __post_init__(self) -> None:
        for name in ("max_bytes", "min_side", "max_pixels"):
            if getattr(self, name) < 1:
                raise ValueError(f"ImageLimits.{name} must be a positive integer, got {getattr(self, name)!r}")


def decode_image(
    data: bytes, limits: ImageLimits = ImageLimits(), draft_to: tuple[int, int] | None = None
) -> Image.Image:
    """Decode upload bytes into an RGB image (EXIF orientation applied, first frame of animations).

    With `draft_to` (width, height), a JPEG may be decoded at a reduced scale that stays at least that large.

    Raises ImageRejected with one of: empty_file, too_large, unsupported_format, corrupt_image,
    decompression_bomb, too_small.
    """
    with guarded_decode(data, limits) as image_format:
        image = open_upload(data, image_format, limits)
        if draft_to is not None and image.format in ("JPEG", "MPO"):
            image.draft("RGB", draft_to)  # keeps both sides >= draft_to; a no-op when no scale fits
        image.load()
        return to_rgb(apply_exif_orientation(image, exif_orientation(image)))


@contextlib.contextmanager
def guarded_decode(data: bytes, limits: ImageLimits = ImageLimits()) -> Iterator[str]:
    """Checks the bytes before any decoding and yields their sniffed format; every decoder error raised inside
    becomes an ImageRejected with its code (empty_file, too_large, unsupported_format, corrupt_image,
    decompression_bomb, too_small)."""
    if not data:
        raise ImageRejected("empty_file", "the file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageRejected("too_large", f"the file is {len(data)} bytes; the limit is {limits.max_bytes} bytes")

    image_format = sniff_image_format(data)
    if image_format is None:
        raise ImageRejected(
            "unsupported_format",
            f"the file is not a supported image ({_describe_unsupported(data)}); send {SUPPORTED_IN_WORDS}",
        )
    if image_format == "HEIF" and not _register_heif_opener():
        raise ImageRejected("unsupported_format", "HEIC/HEIF support (pillow-heif) is not installed")

    try:
        yield image_format
    except ImageRejected:
        raise
    except Image.DecompressionBombError as error:
        raise ImageRejected("decompression_bomb", f"the image has too many pixels to decode safely: {error}") from None
    except _DECODER_ERRORS as error:
        raise ImageRejected(
            "corrupt_image", f"the file looks like {image_format} but cannot be decoded: {_describe_error(error)}"
        ) from None


def preprocess(
    image: Image.Image, resize_method: str = DEFAULT_RESIZE_METHOD, size: tuple[int, int] = MODEL_INPUT_SIZE
) -> np.ndarray:
    """Return the float32 (height, width, 3) BGR mean-centred array ResNet50 expects.

    Identical to `keras.utils.load_img(target_size=size, interpolation=resize_method)` followed by
    `img_to_array` and `keras.applications.resnet50.preprocess_input`. `size` is (height, width), as in Keras.
    """
    resample = _resampling(resize_method)
    height, width = size
    if height < 1 or width < 1:
        raise ValueError(f"size must be two positive integers (height, width), got {size!r}")
    rgb = image if image.mode == "RGB" else to_rgb(image)
    if rgb.size != (width, height):
        rgb = rgb.resize((width, height), resample)
    pixels = np.asarray(rgb, dtype=np.float32)
    return pixels[..., ::-1] - _CAFFE_BGR_MEAN


def decode_and_preprocess(
    data: bytes,
    limits: ImageLimits = ImageLimits(),
    resize_method: str = DEFAULT_RESIZE_METHOD,
) -> np.ndarray:
    """The ResNet50 input classify judges for these upload bytes: its rendition's (first frame), preprocessed;
    raises ImageRejected."""
    from classify.rendition import make_rendition  # the rendition is made from this module's decoding steps

    _resampling(resize_method)  # fail on a bad setting before spending time decoding
    return make_rendition(data, lambda image: preprocess(image, resize_method), limits).judged[0]


# Bytes per pixel of the decoded image, by Pillow mode (what `load()` allocates).
_DECODED_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "La": 2, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3}
# Conversions on the way to RGB, per pixel: the RGB copy, plus alpha's mask (and slack), or the 8-bit copy
# of a high-depth image. JPEG's decoder keeps working memory: a little for baseline, whole-image coefficient
# buffers for progressive. Measured on 40 MP photos (tests/process/test_imaging_memory.py): peaks of 4 (JPEG),
# 7 (progressive JPEG), 9 (RGBA PNG) and 7 (16-bit PNG) bytes per pixel.
_TO_RGB_BYTES_PER_PIXEL = 3
_ALPHA_EXTRA_BYTES_PER_PIXEL = 3
_HIGH_DEPTH_EXTRA_BYTES_PER_PIXEL = 1
_JPEG_EXTRA_BYTES_PER_PIXEL = 1
_PROGRESSIVE_JPEG_EXTRA_BYTES_PER_PIXEL = 5


def estimated_decode_bytes(data: bytes) -> int:
    """Peak bytes decoding these upload bytes into RGB takes, from the header alone (0 if it is unreadable or
    a decompression bomb: those are rejected before any pixel is decoded).

    What classify's decode budget admits; an estimate, not a measurement, erring on the high side.
    """
    image_format = sniff_image_format(data)
    if image_format is None or (image_format == "HEIF" and not _register_heif_opener()):
        return 0
    try:
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            width, height = image.size
            mode, alpha = image.mode, image.has_transparency_data
            progressive = bool(image.info.get("progressive") or image.info.get("progression"))
    except Exception:  # noqa: BLE001 - only an estimate: decode_image gives the real verdict and its reason
        return 0
    per_pixel = _DECODED_BYTES_PER_PIXEL.get(mode, 4)  # RGBA, CMYK, I, F and other 32-bit modes
    if image_format in ("JPEG", "MPO"):
        per_pixel += _PROGRESSIVE_JPEG_EXTRA_BYTES_PER_PIXEL if progressive else _JPEG_EXTRA_BYTES_PER_PIXEL
    if mode != "RGB":
        per_pixel += _TO_RGB_BYTES_PER_PIXEL
    if alpha:
        per_pixel += _ALPHA_EXTRA_BYTES_PER_PIXEL
    if mode in ("I", "F") or mode.startswith("I;"):
        per_pixel += _HIGH_DEPTH_EXTRA_BYTES_PER_PIXEL
    return width * height * per_pixel


def _resampling(resize_method: str) -> Image.Resampling:
    try:
        return _RESAMPLING[resize_method]
    except KeyError:
        raise ValueError(
            f"unknown resize method {resize_method!r}; expected one of: {', '.join(RESIZE_METHODS)}"
        ) from None


def _describe_unsupported(data: bytes) -> str:
    head = data[:16].lstrip()
    if data[4:8] == b"ftyp":
        brand = data[8:12].decode("ascii", "replace")
        return "AVIF" if data[8:12] in AVIF_BRANDS else f"ISO media file, brand {brand!r}"
    known = (
        (b"%PDF", "PDF"),
        (b"%!PS", "PostScript"),
        (b"PK\x03\x04", "ZIP archive"),
        (b"\x00\x00\x01\x00", "ICO"),
        (b"<svg", "SVG"),
        (b"<?xml", "XML/SVG"),
        (b"<!doctype html", "HTML"),
        (b"<html", "HTML"),
    )
    for magic, name in known:
        if head.lower().startswith(magic.lower()):
            return name
    return f"starts with {data[:8].hex(' ')}"


def _describe_error(error: BaseException) -> str:
    if isinstance(error, UnidentifiedImageError):
        return "its header is not valid"  # Pillow's own text only names the BytesIO object
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _check_dimensions(size: tuple[int, int], limits: ImageLimits) -> None:
    width, height = size
    pixels = width * height
    if pixels > limits.max_pixels:
        raise ImageRejected(
            "decompression_bomb",
            f"image is {width}x{height} = {pixels} pixels; the limit is {limits.max_pixels}",
        )
    if min(width, height) < limits.min_side:
        raise ImageRejected(
            "too_small",
            f"image is {width}x{height} pixels; both sides must be at least {limits.min_side} pixels",
        )


def open_upload(data: bytes, image_format: str, limits: ImageLimits) -> Image.Image:
    """Read only the header and enforce the limits on its dimensions; no pixel is decoded yet."""
    # Pillow only warns about images above its own global limit (and refuses twice that). Its condition is
    # checked here from the header instead of catching the warning: catch_warnings is not thread-safe, and
    # photos are decoded in threads.
    image = Image.open(io.BytesIO(data), formats=[image_format])
    _check_dimensions(image.size, limits)
    width, height = image.size
    if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
        raise ImageRejected(
            "decompression_bomb",
            f"image is {width}x{height} = {width * height} pixels; Pillow's limit is {Image.MAX_IMAGE_PIXELS}",
        )
    return image


@functools.cache
def _register_heif_opener() -> bool:
    """Register pillow-heif once, on the first HEIC seen; False when it is not installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    # Thumbnails, depth and auxiliary images are never classified; skip reading them.
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return True


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation tag (1 = as stored); 1 when the EXIF block is unreadable (the pixels are still fine)."""
    try:
        orientation = image.getexif().get(0x0112, 1)
    except _DECODER_ERRORS:
        return 1
    return orientation if orientation in range(1, 9) else 1


def apply_exif_orientation(image: Image.Image, orientation: int) -> Image.Image:
    """The image turned upright for `orientation` (the same for every frame of an animation)."""
    method = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
    return image if method is None else image.transpose(method)


def to_rgb(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Convert any Pillow mode to RGB: transparency onto `background`, 16/32-bit and float scaled to 8 bits."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "F") or image.mode.startswith("I;"):
        return _high_depth_to_gray(image).convert("RGB")
    if image.has_transparency_data:
        rgba = image.convert("RGBA") if image.mode != "RGBA" else image
        # Composited onto white in place of a white RGBA canvas plus a composite copy: two fewer full copies.
        canvas = Image.new("RGB", rgba.size, background)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


# Rows converted at a time: bounds the float64 working copies of a high-depth image to a few MiB.
_STRIP_PIXELS = 1 << 20


def _high_depth_to_gray(image: Image.Image) -> Image.Image:
    """Scale a 16/32-bit integer or float single-channel image to 8-bit L.

    Pillow's own convert("L") clips these at 255, turning almost every 16-bit photo white.
    Integers within 0..65535 are 16-bit samples; float within 0..1 or 0..255 keeps that scale;
    any other range is stretched min..max. Works in strips of rows, so a 40 MP 16-bit photo never has a
    full-size float copy (that alone would be 320 MB per copy).
    """
    values = np.asarray(image)
    rows = max(1, _STRIP_PIXELS // max(1, values.shape[1] if values.ndim > 1 else 1))
    low, high = _finite_range(values, rows)

    def scaled(strip: np.ndarray) -> np.ndarray:
        if image.mode == "F" and low >= 0.0 and high <= 1.0:
            return strip * 255.0
        if image.mode == "F" and low >= 0.0 and high <= 255.0:
            return strip
        if image.mode != "F" and low >= 0.0 and high <= 65535.0:
            return strip / 257.0
        if high > low:
            return (strip - low) * (255.0 / (high - low))
        return np.zeros_like(strip)

    gray = np.empty(values.shape, dtype=np.uint8)
    for start in range(0, len(values), rows):
        strip = values[start : start + rows].astype(np.float64)
        strip[~np.isfinite(strip)] = 0.0
        gray[start : start + rows] = np.clip(np.rint(scaled(strip)), 0, 255)
    return Image.fromarray(gray)


def _finite_range(values: np.ndarray, rows: int) -> tuple[float, float]:
    """min and max with non-finite values counted as 0 (as they are converted), a strip at a time."""
    low, high = np.inf, -np.inf
    for start in range(0, len(values), rows):
        strip = values[start : start + rows]
        if strip.dtype.kind == "f" and not np.isfinite(strip).all():
            strip = np.where(np.isfinite(strip), strip, 0.0)
        if strip.size:
            low, high = min(low, float(strip.min())), max(high, float(strip.max()))
    return (0.0, 0.0) if low > high else (low, high)
