"""The display rendition: the one decode of an upload that both models judge and shoppers are shown.

The original upload is never served (it stays private, for re-judging and export). Classify decodes it once and
makes its rendition:

- EXIF orientation applied; colours converted to sRGB from an embedded ICC profile;
- transparency flattened onto BACKGROUND (white), so a browser shows exactly what the models saw, whatever the
  page behind it;
- the long side reduced to at most `RenditionRules.long_side` (1000 px by default: a review photo is shown at
  most about that large on a product page) with an antialiased filter (bicubic: every source pixel counts); large
  JPEGs are decoded with libjpeg's DCT scaling only down to a size that still reaches that cap, so the rendition
  keeps exactly the size and framing it would have from a full decode (a 12-MP phone photo, 4000x3000 or
  4032x3024, is decoded at 1/4 scale: the decode is the rendition, or within 1 % of it);
- re-encoded as a baseline JPEG (quality 92, full-resolution chroma) with no metadata at all (no EXIF, GPS, XMP,
  ICC, comments).

The models judge the rendition's own bytes decoded again: what is served is what was judged. A large rendition is
decoded for them with libjpeg's DCT scaling, down to no less than `RenditionRules.judged_min_side` on both sides
(twice the largest model input): each scaled pixel is a weighted sum of its whole 8x8 block of served pixels, so
every served pixel still counts, and each model's own antialiased reduction to its input does the rest. Only a
rendition with both sides of 1024 px or more is scaled so (a long side above the default); decoding and reducing
a 1600 x 1200 rendition in full for three 224-px inputs cost as much as making it (docs/benchmark.md, "Where the
time goes").

**Animations** (GIF, APNG, animated WebP: the formats browsers animate). Every distinct frame a browser can show
is judged, up to `max_frames` distinct frames and `max_frame_pixels` decoded frame pixels in all (beyond either
the photo fails with `too_many_frames`); the verdict is the strictest of its frames'. The rendition is a still of
the first frame (a review photo needs no motion), so no frame is ever shown that was not judged. Multi-picture
JPEGs (MPO), multi-page TIFFs and HEIF sequences are shown by no browser beyond their first image: that one is
the rendition and the only image judged.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from PIL import Image, ImageCms, ImageSequence

from classify.imaging import (
    ImageLimits,
    ImageRejected,
    apply_exif_orientation,
    exif_orientation,
    guarded_decode,
    open_upload,
    to_rgb,
)

logger = logging.getLogger(__name__)

# What transparency is flattened onto, for the models and for shoppers alike.
BACKGROUND = (255, 255, 255)
CONTENT_TYPE = "image/jpeg"  # photomod_shared.ids.rendition_key names its files .jpg
# Formats a browser animates; any other format shows its first image only.
ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP"})
TOO_MANY_FRAMES = "too_many_frames"
# The reduction to the rendition's size: bicubic covers the whole source when reducing (support scales with it). The
# draft leaves at most a 2x reduction, where bicubic stays within 45 dB PSNR of a full decode's Lanczos (Lanczos
# itself: 47.5 dB) at 0.73x Lanczos' time (python -m bench.classify_stages, docs/benchmark.md).
_REDUCE = Image.Resampling.BICUBIC
_SRGB = ImageCms.createProfile("sRGB")

T = TypeVar("T")


@dataclass(frozen=True)
class RenditionRules:
    """How a rendition is made (classify's settings)."""

    # The largest long side at which libjpeg's DCT scaling decodes a 12-MP phone photo (4000x3000, 4032x3024) at
    # 1/4: 4000 // 1000 = 3000 // 750 = 4. At 1600 px the same photo was decoded at 1/2 and reduced by bicubic,
    # which cost 2.5x the CPU of the whole path now (python -m bench.classify_stages, docs/benchmark.md).
    long_side: int = 1000
    # 4:4:4 at 92: chroma subsampling (JPEG's 4:2:0 default) moved the safety model's porn score of product
    # photos by up to +0.35 (bench.evaluate_safety, docs/benchmark.md); full chroma keeps it within ~0.15.
    quality: int = 92
    max_frames: int = 32
    max_frame_pixels: int = 120_000_000
    # libjpeg's DCT scaling for large JPEGs (off only to measure what it changes: python -m bench.draft_rule).
    draft: bool = True
    # The served rendition is decoded for the models at the smallest DCT scale keeping both sides at least this:
    # twice the largest model input (Open-NSFW resizes to 256 px first; the others take 224), so that each
    # model's antialiased reduction still does half the way. 0: always decoded in full.
    judged_min_side: int = 512

    def __post_init__(self) -> None:
        if self.judged_min_side < 0:
            raise ValueError(f"RenditionRules.judged_min_side must be 0 or more, got {self.judged_min_side!r}")
        for name in ("long_side", "max_frames", "max_frame_pixels"):
            if getattr(self, name) < 1:
                raise ValueError(f"RenditionRules.{name} must be a positive integer, got {getattr(self, name)!r}")
        if not 1 <= self.quality <= 95:
            raise ValueError(f"RenditionRules.quality must be within 1..95, got {self.quality!r}")


@dataclass(frozen=True)
class Rendition(Generic[T]):
    data: bytes  # the JPEG that is served
    size: tuple[int, int]  # (width, height)
    # What `judge` returned for each distinct frame; the first is the rendition itself (decoded from `data`, at a
    # DCT scale when it is large: RenditionRules.judged_min_side).
    judged: list[T]


def make_rendition(
    data: bytes,
    judge: Callable[[Image.Image], T],
    limits: ImageLimits | None = None,
    rules: RenditionRules | None = None,
    inspect: Callable[[Image.Image], Image.Image] | None = None,
) -> Rendition[T]:
    """Decode upload bytes once, make the rendition and judge it and every other frame a browser shows.

    `inspect` sees the rendition's pixels before they are encoded (classify.checks) and returns the pixels to
    serve: the same, or retouched (then those are encoded, and judged). Raises ImageRejected (imaging's codes,
    and too_many_frames).
    """
    limits = limits or ImageLimits()
    rules = rules or RenditionRules()
    with guarded_decode(data, limits) as image_format:
        image = open_upload(data, image_format, limits)
        if rules.draft and image.format in ("JPEG", "MPO"):
            image.draft("RGB", draft_size(image.size, rules.long_side))
        image.load()  # decoder errors surface here, not swallowed by a metadata read that loads too
        orientation = exif_orientation(image)
        animated = image.format in ANIMATED_FORMATS and getattr(image, "n_frames", 1) > 1
        frames = ImageSequence.Iterator(image) if animated else iter([image])
        judged: list[T] = []
        seen: set[bytes] = set()
        decoded_pixels = 0
        rendition = b""
        size = (0, 0)
        for frame in frames:
            decoded_pixels += frame.size[0] * frame.size[1]
            if decoded_pixels > rules.max_frame_pixels:
                raise ImageRejected(
                    TOO_MANY_FRAMES,
                    f"the animation has over {rules.max_frame_pixels} frame pixels in all; every frame a browser "
                    "shows must be judged, so it is refused",
                )
            shown = display_pixels(frame, orientation, rules.long_side)
            if animated:  # a still has one frame: nothing to tell apart (hashing it cost 5 % of its decode)
                digest = hashlib.blake2b(shown.tobytes(), digest_size=16).digest()
                if digest in seen:
                    continue  # the same picture again: judged once
                seen.add(digest)
            if len(seen) > rules.max_frames:
                raise ImageRejected(
                    TOO_MANY_FRAMES,
                    f"the animation has more than {rules.max_frames} distinct frames; every frame a browser shows "
                    "must be judged, so it is refused",
                )
            if not judged:
                if inspect is not None:
                    shown = inspect(shown)
                rendition, size = encode(shown, rules.quality), shown.size
                with Image.open(io.BytesIO(rendition), formats=["JPEG"]) as served:
                    if rules.judged_min_side:
                        served.draft("RGB", (rules.judged_min_side, rules.judged_min_side))
                    served.load()
                    judged.append(judge(served))
            else:
                judged.append(judge(shown))
        return Rendition(rendition, size, judged)


def draft_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The smallest (width, height) a JPEG may be DCT-scaled to and still reach the rendition's long side."""
    width, height = size
    scale = long_side / max(width, height)
    if scale >= 1:
        return size
    return (math.ceil(width * scale), math.ceil(height * scale))


def rendition_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    width, height = size
    scale = long_side / max(width, height)
    if scale >= 1:
        return size
    return (max(1, round(width * scale)), max(1, round(height * scale)))


def display_pixels(frame: Image.Image, orientation: int, long_side: int) -> Image.Image:
    """One frame as a browser shows it on BACKGROUND: sRGB, opaque RGB, upright, at most `long_side`."""
    frame = apply_exif_orientation(frame, orientation)
    frame = to_srgb(frame)
    frame = to_rgb(frame, BACKGROUND)
    target = rendition_size(frame.size, long_side)
    if frame.size != target:
        frame = frame.resize(target, _REDUCE)
    return frame


def to_srgb(image: Image.Image) -> Image.Image:
    """Convert an image with an embedded ICC profile to sRGB; an unreadable profile is taken as sRGB."""
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as error:
        logger.info("ignoring an unusable ICC profile (%s); the pixels are taken as sRGB", error)
        return image
    return converted if converted is not None else image


def encode(image: Image.Image, quality: int) -> bytes:
    """Baseline JPEG with no metadata: a fresh copy with its info emptied carries no EXIF, XMP, ICC or comment
    (Pillow's JPEG writer takes a comment from `info`, the rest only from arguments never given here)."""
    bare = image.convert("RGB") if image.mode != "RGB" else image.copy()  # one copy (three before: 1 ms a photo)
    bare.info = {}
    buffer = io.BytesIO()
    bare.save(buffer, "JPEG", quality=quality, subsampling=0, optimize=True)
    return buffer.getvalue()


__all__ = [
    "BACKGROUND",
    "CONTENT_TYPE",
    "TOO_MANY_FRAMES",
    "Rendition",
    "RenditionRules",
    "make_rendition",
]
