"""Photos made in memory: a Pillow image encoded as a file would hold it."""

import io

from PIL import Image


def encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    """The bytes of `image` saved as `image_format` (JPEG, PNG, ...) with Pillow's `options`."""
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def solid_jpeg(colour: tuple[int, int, int] = (200, 10, 10), size: tuple[int, int] = (64, 48)) -> bytes:
    """A small JPEG of one colour (quality 95, so the colour survives compression)."""
    return encoded(Image.new("RGB", size, colour), "JPEG", quality=95)
