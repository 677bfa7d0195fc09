"""Which image format a file is, from its first bytes: the uploader refuses non-images early with it and
the classifier picks the one decoder it lets parse the file."""

HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
AVIF_BRANDS = frozenset({b"avif", b"avis"})
# "BM" alone would also match plain text; the DIB header sizes Pillow can read make the test specific.
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


def sniff_image_format(data: bytes) -> str | None:
    """Pillow's name for the format the magic bytes announce (JPEG, PNG, GIF, WEBP, BMP, TIFF, HEIF), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith(b"BM") and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    if data.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "TIFF"
    if data[4:8] == b"ftyp" and _is_heif_brand(data):
        return "HEIF"
    return None


def _is_heif_brand(data: bytes) -> bool:
    major = data[8:12]
    if major in HEIC_BRANDS:
        return True
    if major not in _GENERIC_HEIF_BRANDS:
        return False
    # A generic "mif1" file may really be AVIF, which pillow-heif here cannot decode (no AV1 decoder).
    box_size = int.from_bytes(data[0:4], "big")
    compatible = {data[i : i + 4] for i in range(16, min(box_size, len(data)) - 3, 4)}
    return not (compatible & AVIF_BRANDS) or bool(compatible & HEIC_BRANDS)
