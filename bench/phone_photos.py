"""12-MP phone photos for the benchmark: sample photos upscaled to 4000x3000 (or 4032x3024) and saved as JPEG q90.

Generated on first use into a cache folder (they are large and derived, so never committed).
"""

from pathlib import Path

from PIL import Image

PHONE_SIZE = (4000, 3000)
PHONE_QUALITY = 90


def phone_photos(sources: list[Path], folder: Path, count: int = 12, size: tuple[int, int] = PHONE_SIZE) -> list[Path]:
    """`count` phone-sized JPEGs made from the first `count` sources (landscape, as a phone stores them; 4000x3000
    unless `size` says otherwise, e.g. 4032x3024)."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for source in sources[:count]:
        target = folder / f"{source.stem}-{size[0]}x{size[1]}-q{PHONE_QUALITY}.jpg"
        if not target.exists():
            with Image.open(source) as image:
                upscaled = image.convert("RGB").resize(size, Image.Resampling.BICUBIC)
            partial = target.with_suffix(".partial")
            upscaled.save(partial, format="JPEG", quality=PHONE_QUALITY)
            partial.replace(target)
        photos.append(target)
    return photos
