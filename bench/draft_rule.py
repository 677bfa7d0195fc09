"""What decoding large JPEGs at a reduced scale (Image.draft, classify.imaging's draft rule) changes.

    python -m bench.draft_rule [--photos DIR] [--phones 12]

For every photo large enough to be drafted (the large sample photos and generated 12-MP phone photos) it compares
the model input classify uses (the JPEG decoded at the reduced scale that keeps >= 2x the input, then resized) with
the Keras-equivalent one (full decode, nearest resize): whether each pixel stays within the value range of the
source cell Keras' nearest resize samples from, the pixel differences, the served model's probability differences
and top-5 agreement, and the decode time.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from infra.template import REPO_ROOT

DEFAULT_PHOTOS = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"
PHONE_FOLDER = REPO_ROOT / ".run" / "bench" / "phone-photos"


def keras_cell_ranges(full: np.ndarray, size: tuple[int, int] = (224, 224)) -> tuple[np.ndarray, np.ndarray]:
    """Per output pixel, the min and max of the source cell PIL's nearest resize to `size` (h, w) samples from."""
    height, width = full.shape[:2]
    rows = np.floor(np.arange(size[0]) * height / size[0]).astype(int)
    columns = np.floor(np.arange(size[1]) * width / size[1]).astype(int)
    low = np.minimum.reduceat(np.minimum.reduceat(full, rows, axis=0), columns, axis=1)
    high = np.maximum.reduceat(np.maximum.reduceat(full, rows, axis=0), columns, axis=1)
    return low, high


def main() -> None:
    sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]
    from bench.phone_photos import phone_photos
    from classify.imaging import DRAFT_FACTOR, decode_and_preprocess, decode_image, preprocess
    from classify.model import load_served_classifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--phones", type=int, default=12)
    options = parser.parse_args()
    draft_to = (DRAFT_FACTOR * 224, DRAFT_FACTOR * 224)
    sources = sorted(path for path in options.photos.iterdir() if path.is_file())
    large = [path for path in sources if min(side // draft_to[0] for side in Image.open(path).size) >= 2]
    photos = large + phone_photos(sources, PHONE_FOLDER, options.phones)
    model = load_served_classifier(REPO_ROOT / "models" / "resnet50.tflite", allow_untrained=True)

    full_inputs, draft_inputs, outside, excess = [], [], 0, 0
    full_s = draft_s = 0.0
    print(f"{'photo':<46} {'size':>9}  {'drafted':>8}  outside the Keras cell  max excess  mean |diff|")
    for path in photos:
        data = path.read_bytes()
        started = time.perf_counter()
        full_image = decode_image(data)
        full_inputs.append(preprocess(full_image))
        full_s += time.perf_counter() - started
        started = time.perf_counter()
        draft_inputs.append(decode_and_preprocess(data))
        draft_s += time.perf_counter() - started
        drafted = decode_image(data, draft_to=draft_to)
        low, high = keras_cell_ranges(np.asarray(full_image).astype(np.int16))
        seen = np.asarray(drafted.resize((224, 224), Image.Resampling.NEAREST)).astype(np.int16)
        beyond = np.maximum(low - seen, seen - high).clip(0)
        outside += int((beyond > 0).sum())
        excess = max(excess, int(beyond.max()))
        difference = np.abs(draft_inputs[-1] - full_inputs[-1]).mean()
        print(
            f"{path.name[:46]:<46} {full_image.width:>4}x{full_image.height:<4}  {drafted.width:>4}x{drafted.height:<4}"
            f"  {(beyond > 0).mean():>20.4%}  {beyond.max():>10}  {difference:>11.2f}"
        )
    full_p, draft_p = model.predict(np.stack(full_inputs)), model.predict(np.stack(draft_inputs))
    agree = sum(list(np.argsort(-a)[:5]) == list(np.argsort(-b)[:5]) for a, b in zip(draft_p, full_p, strict=True))
    print(
        f"{len(photos)} photos: {outside / (len(photos) * 224 * 224 * 3):.4%} of input values outside their Keras "
        f"cell's range, by at most {excess} levels"
    )
    print(
        f"probabilities (served model, weights {model.info.weights}): max difference "
        f"{np.abs(draft_p - full_p).max():.2e}, top-5 agreement {agree}/{len(photos)}"
    )
    print(f"decode + preprocess: full {full_s:.2f} s, draft {draft_s:.2f} s (ratio {draft_s / full_s:.2f})")


if __name__ == "__main__":
    main()
