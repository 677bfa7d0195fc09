"""What decoding large JPEGs at a reduced scale (Image.draft) changes in the model's input and output.

    python -m bench.draft_rule [--photos DIR] [--phone 12]

For every photo at least twice the model's input in each dimension (the large sample photos and generated 12-MP
phone photos) it compares three inputs with the Keras-equivalent one (full decode, nearest resize):
  draft   what classify uses: the JPEG decoded at the reduced scale that keeps >= 2x the input, then resized;
  shift   the full decode with the photo's first row and column cut off: how much Keras' own nearest resize
          moves when the same photo is framed one pixel differently (the yardstick the draft is held to).
It prints the pixel differences, the served model's probability differences and top-5 agreement, and decode times.
"""

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.classify_bench import DEFAULT_PHOTOS, PHONE_FOLDER
from bench.phone_photos import phone_photos
from infra.template import REPO_ROOT


def main() -> None:
    import sys

    sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]
    from classify.imaging import MODEL_INPUT_SIZE, decode_and_preprocess, decode_image, preprocess
    from classify.model import load_served_classifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--phone", type=int, default=12)
    options = parser.parse_args()
    sources = sorted(path for path in options.photos.iterdir() if path.is_file())
    large = [path for path in sources if min(side // (2 * 224) for side in Image.open(path).size) >= 2]
    photos = large + phone_photos(sources, PHONE_FOLDER, options.phone)
    model = load_served_classifier(REPO_ROOT / "models" / "resnet50.tflite", allow_untrained=True)

    rows, inputs = [], {"full": [], "draft": [], "shift": []}
    timings = {"full": 0.0, "draft": 0.0}
    for path in photos:
        data = path.read_bytes()
        started = time.perf_counter()
        full = preprocess(decode_image(data))
        timings["full"] += time.perf_counter() - started
        started = time.perf_counter()
        draft = decode_and_preprocess(data)
        timings["draft"] += time.perf_counter() - started
        image = decode_image(data)
        shift = preprocess(image.crop((1, 1, image.width, image.height)))
        drafted = Image.open(io.BytesIO(data))
        drafted.draft("RGB", (2 * MODEL_INPUT_SIZE[1], 2 * MODEL_INPUT_SIZE[0]))
        rows.append((path.name, image.size, drafted.size, np.abs(draft - full), np.abs(shift - full)))
        for name, array in (("full", full), ("draft", draft), ("shift", shift)):
            inputs[name].append(array)

    probabilities = {name: model.predict(np.stack(arrays)) for name, arrays in inputs.items()}
    print(f"{'photo':<44} {'size':>10} {'drafted':>9}  draft-full mean/max   shift-full mean/max")
    for name, size, drafted_size, draft_diff, shift_diff in rows:
        print(
            f"{name[:44]:<44} {size[0]:>4}x{size[1]:<5} {drafted_size[0]:>4}x{drafted_size[1]:<4}"
            f"  {draft_diff.mean():6.2f} / {draft_diff.max():5.1f}      {shift_diff.mean():6.2f} / {shift_diff.max():5.1f}"
        )
    for name in ("draft", "shift"):
        delta = np.abs(probabilities[name] - probabilities["full"])
        agree = sum(
            list(np.argsort(-row)[:5]) == list(np.argsort(-full)[:5])
            for row, full in zip(probabilities[name], probabilities["full"], strict=True)
        )
        pixels = np.abs(np.stack(inputs[name]) - np.stack(inputs["full"]))
        print(
            f"{name} vs full decode: pixel mean {pixels.mean():.2f}, max {pixels.max():.0f}; "
            f"probability max diff {delta.max():.2e}; top-5 agreement {agree}/{len(photos)} "
            f"(weights: {model.info.weights})"
        )
    print(
        f"decode + preprocess of the {len(photos)} photos: full {timings['full']:.2f} s, draft {timings['draft']:.2f} s "
        f"(ratio {timings['draft'] / timings['full']:.2f})"
    )


if __name__ == "__main__":
    main()
