"""An image-scaling attack built from the sample photos, for the tests that show it no longer works.

A sampling resize reads a fixed few pixels of a large photo: Keras' nearest (one pixel per output pixel) and
nsfwjs' bilinear with aligned corners (the four around each output pixel's position). Replacing only those
pixels of a large photo with another photo's makes a model that resizes that way see the other photo, while a
person still sees the first one.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.support.images import encoded

SIZE = 2240  # ten times the models' 224
MODEL_SIDE = 224


def nearest_positions(old: int, new: int) -> np.ndarray:
    """The source index Pillow's (and so Keras') nearest resize reads for each output index."""
    return np.minimum(old - 1, np.floor((np.arange(new) + 0.5) * old / new).astype(np.intp))


def aligned_corner_positions(old: int, new: int) -> tuple[np.ndarray, np.ndarray]:
    """The two source indices TensorFlow(.js)' bilinear resize with align_corners reads for each output index."""
    positions = np.arange(new) * (old - 1) / (new - 1)
    return np.floor(positions).astype(np.intp), np.minimum(old - 1, np.ceil(positions)).astype(np.intp)


def naive_nearest(pixels: np.ndarray) -> np.ndarray:
    rows, cols = nearest_positions(pixels.shape[0], MODEL_SIDE), nearest_positions(pixels.shape[1], MODEL_SIDE)
    return pixels[rows[:, None], cols[None, :]]


def attacked(cover: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """`cover` (SIZE x SIZE) with `hidden` (MODEL_SIDE x MODEL_SIDE) planted where both naive resizes read."""
    planted = cover.copy()
    readers = [nearest_positions(SIZE, MODEL_SIDE), *aligned_corner_positions(SIZE, MODEL_SIDE)]
    for rows in readers:
        for cols in readers:
            planted[rows[:, None], cols[None, :]] = hidden
    return planted


def attack_photos(cover_path: str, hidden_path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(untouched cover, attacked cover, hidden) as uint8 RGB arrays: the cover at SIZE, the hidden at 224."""
    with Image.open(cover_path) as image:
        cover = np.asarray(image.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BICUBIC))
    with Image.open(hidden_path) as image:
        hidden = np.asarray(image.convert("RGB").resize((MODEL_SIDE, MODEL_SIDE), Image.Resampling.BICUBIC))
    return cover, attacked(cover, hidden), hidden


def as_png(pixels: np.ndarray) -> bytes:
    return encoded(Image.fromarray(pixels), "PNG")


def planted_share(cover: np.ndarray, planted: np.ndarray) -> float:
    return float(np.any(cover != planted, axis=-1).mean())
