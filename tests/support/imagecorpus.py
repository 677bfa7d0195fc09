"""An in-memory corpus of valid, unusual, malformed and hostile uploads, with the outcome each must get.

Everything is generated with Pillow/numpy from fixed seeds: deterministic, small, and fast (well under 2 s).
`expected_status` is "done" (classifiable) or "failed", in which case `expected_code` is the
`classify.imaging.ImageRejected` code that `decode_image` with the default `ImageLimits()` raises.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from tests.support.images import encoded

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class CorpusCase:
    name: str
    data: bytes
    content_type: str
    expected_status: str
    expected_code: str | None

    def __repr__(self) -> str:  # keep pytest ids and failure output short: never dump megabytes of bytes
        return f"CorpusCase({self.name!r}, {len(self.data)} bytes, {self.expected_status}, {self.expected_code})"


def build_corpus() -> list[CorpusCase]:
    """Every case, built once per process (the bytes are immutable, the list is a fresh copy)."""
    return list(_build())


def _done(name: str, data: bytes, content_type: str) -> CorpusCase:
    return CorpusCase(name, data, content_type, "done", None)


def _failed(name: str, data: bytes, content_type: str, code: str) -> CorpusCase:
    return CorpusCase(name, data, content_type, "failed", code)


def _photo(width: int, height: int, seed: int = 0, noise: int = 12) -> Image.Image:
    """A smooth colour gradient with a little noise: compresses like a photo, fast to make at any size."""
    x = np.linspace(0, 255, width).astype(np.uint16)[None, :]
    y = np.linspace(0, 255, height).astype(np.uint16)[:, None]
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = x
    pixels[..., 1] = y
    pixels[..., 2] = (x + y) // 2
    if noise:
        rng = np.random.default_rng(seed)
        jitter = rng.integers(-noise, noise + 1, size=(height, width, 1), dtype=np.int16)
        pixels = np.clip(pixels + jitter, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _noise(width: int, height: int, seed: int) -> Image.Image:
    """Incompressible pixels, so truncating the file really cuts into the pixel data."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8))


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes | None) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    chunks = _png_chunk(b"IHDR", header)
    if idat is not None:
        chunks += _png_chunk(b"IDAT", idat)
    return b"\x89PNG\r\n\x1a\n" + chunks + _png_chunk(b"IEND", b"")


def black_1bit_png(side: int) -> bytes:
    """A genuine, fully decodable side x side 1-bit PNG: gigapixel-class, yet only kilobytes on disk."""
    row = bytes(1 + (side + 7) // 8)  # filter byte 0 + packed bits
    compressor = zlib.compressobj(9)
    rows_per_block = 256
    block = row * rows_per_block
    full_blocks, remainder = divmod(side, rows_per_block)
    idat = b"".join(compressor.compress(block) for _ in range(full_blocks))
    idat += compressor.compress(row * remainder) + compressor.flush()
    return _png(side, side, 1, 0, idat)


def _with_jpeg_dimensions(jpeg: bytes, width: int, height: int) -> bytes:
    """Patch the SOF0 header of a baseline JPEG to claim other dimensions (the scan data stays small)."""
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]


def _scramble(data: bytes, start: int, end: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    garbage = rng.integers(0, 256, size=end - start, dtype=np.uint8).tobytes()
    return data[:start] + garbage + data[end:]


def _exif_rotated_jpeg() -> bytes:
    """Stored 96x48, left half red and right half blue; orientation 6 means "rotate 90 degrees clockwise"."""
    image = Image.new("RGB", (96, 48), (255, 0, 0))
    image.paste((0, 0, 255), (48, 0, 96, 48))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(image, "JPEG", quality=95, exif=exif.tobytes())


def _animated(image_format: str, **options: object) -> bytes:
    frames = [Image.new("RGB", (48, 48), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encoded(frames[0], image_format, save_all=True, append_images=frames[1:], duration=100, loop=0, **options)


def _palette_with_transparency() -> bytes:
    image = _photo(64, 64, seed=3).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return encoded(image, "PNG", transparency=0)


def _rgba() -> bytes:
    image = _photo(64, 64, seed=4).convert("RGBA")
    alpha = Image.linear_gradient("L").resize((64, 64))
    image.putalpha(alpha)
    return encoded(image, "PNG")


def _la() -> bytes:
    gray = Image.linear_gradient("L").resize((64, 64))
    return encoded(Image.merge("LA", (gray, gray.transpose(Image.Transpose.FLIP_LEFT_RIGHT))), "PNG")


def _gray16_png() -> bytes:
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    return encoded(Image.fromarray(ramp), "PNG")


def _rgb48_png() -> bytes:
    """16 bits per channel RGB, written by hand (Pillow cannot write it)."""
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 65536, size=(40, 40, 3), dtype=np.uint16).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    return _png(40, 40, 16, 2, zlib.compress(raw))


def _float_tiff() -> bytes:
    ramp = np.linspace(0.0, 1.0, 48 * 48, dtype=np.float32).reshape(48, 48)
    return encoded(Image.fromarray(ramp), "TIFF")


def _int32_tiff() -> bytes:
    ramp = np.linspace(-1_000_000, 3_000_000, 48 * 48).astype(np.int32).reshape(48, 48)
    return encoded(Image.fromarray(ramp), "TIFF")


def _heic(image: Image.Image) -> bytes | None:
    """HEIC via pillow-heif, or None where it cannot encode (no x265)."""
    try:
        import pillow_heif
    except ImportError:
        return None
    if not pillow_heif.libheif_info().get("HEIF"):
        return None
    heif = pillow_heif.from_pillow(image)
    buffer = io.BytesIO()
    heif.save(buffer, quality=70)
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("photo.jpg", date_time=(2024, 1, 1, 0, 0, 0)), encoded(_photo(40, 40), "JPEG"))
    return buffer.getvalue()


@functools.cache
def _build() -> tuple[CorpusCase, ...]:
    photo = _photo(320, 240, seed=1)
    jpeg = encoded(photo, "JPEG", quality=85)
    png = encoded(photo, "PNG")
    noisy_jpeg = encoded(_noise(96, 96, seed=7), "JPEG", quality=90)
    noisy_png = encoded(_noise(96, 96, seed=8), "PNG")
    gif = encoded(_noise(64, 64, seed=9).convert("P", palette=Image.Palette.ADAPTIVE), "GIF")
    webp = encoded(photo, "WEBP", quality=80)
    small_jpeg = encoded(_photo(64, 64, seed=2), "JPEG", quality=90)

    cases = [
        # Classifiable, in every accepted container and colour mode.
        _done("jpeg_rgb", jpeg, "image/jpeg"),
        _done("jpeg_progressive", encoded(photo, "JPEG", quality=85, progressive=True), "image/jpeg"),
        _done("jpeg_grayscale", encoded(photo.convert("L"), "JPEG"), "image/jpeg"),
        _done("jpeg_cmyk", encoded(photo.convert("CMYK"), "JPEG"), "image/jpeg"),
        _done("jpeg_exif_orientation_6", _exif_rotated_jpeg(), "image/jpeg"),
        _done("jpeg_sent_as_png", jpeg, "image/png"),
        _done("jpeg_with_trailing_garbage", jpeg + b"\x00garbage after the EOI marker" * 10, "image/jpeg"),
        _done("jpeg_exactly_min_side_32x32", encoded(_photo(32, 32), "JPEG"), "image/jpeg"),
        _done("jpeg_extreme_aspect_4000x40", encoded(_photo(4000, 40, noise=0), "JPEG"), "image/jpeg"),
        _done("jpeg_large_4000x3000", encoded(_photo(4000, 3000, noise=0), "JPEG", quality=75), "image/jpeg"),
        _done("mpo_two_frames", encoded(photo, "MPO", save_all=True, append_images=[photo]), "image/jpeg"),
        _done("png_rgb", png, "image/png"),
        _done("png_grayscale", encoded(photo.convert("L"), "PNG"), "image/png"),
        _done("png_la", _la(), "image/png"),
        _done("png_palette_with_transparency", _palette_with_transparency(), "image/png"),
        _done("png_rgba", _rgba(), "image/png"),
        _done("png_16bit_grayscale", _gray16_png(), "image/png"),
        _done("png_16bit_rgb", _rgb48_png(), "image/png"),
        _done("png_1bit", encoded(photo.convert("1"), "PNG"), "image/png"),
        _done("gif_static", gif, "image/gif"),
        _done("gif_animated_3_frames", _animated("GIF"), "image/gif"),
        _done("webp_lossy", webp, "image/webp"),
        _done("webp_lossless_rgba", encoded(Image.open(io.BytesIO(_rgba())), "WEBP", lossless=True), "image/webp"),
        _done("webp_animated_3_frames", _animated("WEBP", lossless=True), "image/webp"),
        _done("bmp_rgb", encoded(photo, "BMP"), "image/bmp"),
        _done("bmp_palette", encoded(photo.convert("P"), "BMP"), "image/bmp"),
        _done("tiff_rgb_lzw", encoded(photo, "TIFF", compression="tiff_lzw"), "image/tiff"),
        _done("tiff_cmyk", encoded(photo.convert("CMYK"), "TIFF"), "image/tiff"),
        _done("tiff_float32", _float_tiff(), "image/tiff"),
        _done("tiff_int32", _int32_tiff(), "image/tiff"),
        # Refused before decoding.
        _failed("empty_file", b"", "image/jpeg", "empty_file"),
        _failed(
            "jpeg_padded_over_10mb",
            small_jpeg + bytes(DEFAULT_MAX_BYTES + 512 * 1024 - len(small_jpeg)),
            "image/jpeg",
            "too_large",
        ),
        _failed("png_1x1", encoded(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), "image/png", "too_small"),
        _failed("jpeg_10x10", encoded(_photo(10, 10), "JPEG"), "image/jpeg", "too_small"),
        _failed("jpeg_31x400", encoded(_photo(31, 400), "JPEG"), "image/jpeg", "too_small"),
        _failed("png_bomb_8000x8000_1bit", black_1bit_png(8000), "image/png", "decompression_bomb"),
        _failed("png_bomb_14000x14000_1bit", black_1bit_png(14000), "image/png", "decompression_bomb"),
        _failed("png_header_30000x30000_no_data", _png(30000, 30000, 8, 2, None), "image/png", "decompression_bomb"),
        _failed(
            "jpeg_header_claims_9000x9000",
            _with_jpeg_dimensions(small_jpeg, 9000, 9000),
            "image/jpeg",
            "decompression_bomb",
        ),
        _failed(
            "jpeg_header_claims_65000x65000",
            _with_jpeg_dimensions(small_jpeg, 65000, 65000),
            "image/jpeg",
            "decompression_bomb",
        ),
        _failed(
            "gif_header_claims_65535x65535",
            gif[:6] + struct.pack("<HH", 65535, 65535) + gif[10:],
            "image/gif",
            "decompression_bomb",
        ),
        # Not an image we accept.
        _failed(
            "random_bytes", b"\x13\x37" + np.random.default_rng(11).bytes(4094), "image/jpeg", "unsupported_format"
        ),
        _failed("text_starting_with_bm", b"BMW service history, 2019-2024\n" * 10, "text/plain", "unsupported_format"),
        _failed("text_file", b"just some text, not a photo\n" * 20, "text/plain", "unsupported_format"),
        _failed(
            "pdf",
            b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
            "application/pdf",
            "unsupported_format",
        ),
        _failed(
            "svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>',
            "image/svg+xml",
            "unsupported_format",
        ),
        _failed(
            "svg_with_xml_declaration",
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
            "image/svg+xml",
            "unsupported_format",
        ),
        _failed(
            "html",
            b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
            "text/html",
            "unsupported_format",
        ),
        _failed("zip", _zip(), "application/zip", "unsupported_format"),
        _failed("ico", encoded(_photo(64, 64), "ICO"), "image/x-icon", "unsupported_format"),
        _failed("pcx", encoded(_photo(64, 64), "PCX"), "image/x-pcx", "unsupported_format"),
        _failed("ppm", encoded(_photo(64, 64), "PPM"), "image/x-portable-pixmap", "unsupported_format"),
        _failed("tga", encoded(_photo(64, 64), "TGA"), "image/x-tga", "unsupported_format"),
        _failed(
            "eps",
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nshowpage\n",
            "application/postscript",
            "unsupported_format",
        ),
        _failed("jpeg2000", encoded(_photo(64, 64), "JPEG2000"), "image/jp2", "unsupported_format"),
        _failed("avif", encoded(_photo(64, 64), "AVIF"), "image/avif", "unsupported_format"),
        _failed("riff_wave_audio", b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28), "image/webp", "unsupported_format"),
        _failed(
            "mp4_ftyp_isom",
            b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64),
            "video/mp4",
            "unsupported_format",
        ),
        # A supported format, but broken.
        _failed("jpeg_truncated_half", noisy_jpeg[: len(noisy_jpeg) // 2], "image/jpeg", "corrupt_image"),
        _failed("jpeg_truncated_in_header", jpeg[:20], "image/jpeg", "corrupt_image"),
        _failed(
            "jpeg_magic_then_garbage",
            b"\xff\xd8\xff" + np.random.default_rng(12).bytes(2000),
            "image/jpeg",
            "corrupt_image",
        ),
        _failed("png_truncated_half", noisy_png[: len(noisy_png) // 2], "image/png", "corrupt_image"),
        _failed("png_corrupt_idat", _scramble(noisy_png, 200, 400, seed=13), "image/png", "corrupt_image"),
        _failed("png_signature_only", b"\x89PNG\r\n\x1a\n", "image/png", "corrupt_image"),
        _failed(
            "gif_corrupt_body", _scramble(gif, len(gif) - 300, len(gif) - 1, seed=14), "image/gif", "corrupt_image"
        ),
        _failed("gif_truncated_half", gif[: len(gif) // 2], "image/gif", "corrupt_image"),
        _failed("webp_truncated_half", webp[: len(webp) // 2], "image/webp", "corrupt_image"),
        _failed(
            "bmp_header_then_garbage",
            b"BM" + bytes(12) + struct.pack("<I", 40) + np.random.default_rng(15).bytes(100),
            "image/bmp",
            "corrupt_image",
        ),
        _failed(
            "tiff_magic_then_garbage", b"II*\x00" + np.random.default_rng(16).bytes(100), "image/tiff", "corrupt_image"
        ),
    ]

    heic = _heic(photo)
    if heic is not None:
        cases += [
            _done("heic", heic, "image/heic"),
            _done("heic_sent_as_octet_stream", heic, "application/octet-stream"),
            _failed("heic_truncated_half", heic[: len(heic) // 2], "image/heic", "corrupt_image"),
        ]
    return tuple(cases)
