"""12-MP phone photos for the benchmark: sample photos upscaled to 4000x3000 and saved as JPEG at quality 90.

Generated on first use into a cache folder (they are large and derived, so never committed).
"""

from pathlib import Path

from PIL import Image

PHONE_SIZE = (4000, 3000)
PHONE_QUALITY = 90


def phone_photos(sources: list[Path], folder: Path, count: int = 12) -> list[Path]:
    """`count` phone-sized JPEGs made from the first `count` sources (landscape 4000x3000, as a phone stores them)."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for source in sources[:count]:
        target = folder / f"{source.stem}-4000x3000-q{PHONE_QUALITY}.jpg"
        if not target.exists():
            with Image.open(source) as image:
                upscaled = image.convert("RGB").resize(PHONE_SIZE, Image.Resampling.BICUBIC)
            partial = target.with_suffix(".partial")
            upscaled.save(partial, format="JPEG", quality=PHONE_QUALITY)
            partial.replace(target)
        photos.append(target)
    return photos
