"""The image types the service takes, in one table, and which one a file is from its first bytes.

Every other list of types is read from `IMAGE_TYPES`: the API's content types and key extensions (upload),
the decoders the classifier lets parse a file (classify.imaging), the content type ingest declares, and the web
page's copy, web/formats.js, generated from this table by `make web-formats` (a unit test fails when it is stale).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageType:
    content_type: str
    pillow_format: str  # Pillow's name for the format, as sniff_image_format answers it
    extension: str  # what the key of a stored photo of this type ends with
    file_extensions: tuple[str, ...]  # what a shopper's file of this type may be called
    browser_displays: bool  # every major browser draws it in an <img> (a preview is only a try otherwise)
    name: str  # for people


IMAGE_TYPES = (
    ImageType("image/jpeg", "JPEG", "jpg", ("jpg", "jpeg", "jpe"), True, "JPEG"),
    ImageType("image/png", "PNG", "png", ("png",), True, "PNG"),
    ImageType("image/gif", "GIF", "gif", ("gif",), True, "GIF"),
    ImageType("image/webp", "WEBP", "webp", ("webp",), True, "WebP"),
    ImageType("image/bmp", "BMP", "bmp", ("bmp",), True, "BMP"),
    ImageType("image/tiff", "TIFF", "tiff", ("tif", "tiff"), False, "TIFF"),
    # Pillow (pillow-heif) calls both HEIF: a HEIC brand makes it image/heic, any other HEIF brand image/heif.
    ImageType("image/heic", "HEIF", "heic", ("heic",), False, "HEIC"),
    ImageType("image/heif", "HEIF", "heif", ("heif",), False, "HEIF"),
)
BY_CONTENT_TYPE = {image_type.content_type: image_type for image_type in IMAGE_TYPES}
EXTENSIONS_BY_CONTENT_TYPE = {image_type.content_type: image_type.extension for image_type in IMAGE_TYPES}
# MPO is how Pillow names a multi-picture JPEG once opened (many phone cameras write them); it sniffs as JPEG.
JPEG_FORMATS = frozenset({"JPEG", "MPO"})
DECODABLE_FORMATS = frozenset(image_type.pillow_format for image_type in IMAGE_TYPES) | JPEG_FORMATS


def _in_words() -> str:
    """One name per format, its first row's ("JPEG, PNG, GIF, WebP, BMP, TIFF or HEIC")."""
    names: dict[str, str] = {}
    for image_type in IMAGE_TYPES:
        names.setdefault(image_type.pillow_format, image_type.name)
    *most, last = names.values()
    return ", ".join(most) + " or " + last


# For messages that list what is taken.
SUPPORTED_IN_WORDS = _in_words()

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


def sniff_content_type(data: bytes) -> str | None:
    """The content type of a supported image the magic bytes announce, or None."""
    image_format = sniff_image_format(data)
    if image_format == "HEIF":
        return "image/heic" if data[8:12] in HEIC_BRANDS else "image/heif"
    return next((t.content_type for t in IMAGE_TYPES if t.pillow_format == image_format), None)
