"""What decoding large JPEGs at a reduced scale (Image.draft, classify.rendition's draft rule) changes.

    python -m bench.draft_rule [--photos DIR] [--phones 12]

The rendition of a large JPEG is made from a decode DCT-scaled (1/2, 1/4, 1/8) only as far as it still reaches the
rendition's long side, so the rendition has the same size and framing either way. For every photo large enough to
be drafted (the large sample photos and generated 12-MP phone photos) this compares the rendition made with the
draft against the one made from a full decode: the pixel differences of the served JPEG, both models' probability
differences on it (the served LiteRT conversions) and the time to make it.
"""

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from infra.paths import REPO_ROOT

DEFAULT_PHOTOS = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"
PHONE_FOLDER = REPO_ROOT / ".run" / "bench" / "phone-photos"


def main() -> None:
    sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]
    from bench.phone_photos import phone_photos
    from classify.imaging import preprocess
    from classify.model import RUNTIME_LITERT, load_served_classifier
    from classify.rendition import RenditionRules, draft_size, make_rendition
    from classify.safety import load_safety_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--phones", type=int, default=12)
    options = parser.parse_args()
    rules = RenditionRules()
    sources = sorted(path for path in options.photos.iterdir() if path.is_file())
    large = [path for path in sources if max(Image.open(path).size) >= 2 * rules.long_side]
    photos = large + phone_photos(sources, PHONE_FOLDER, options.phones)
    model = load_served_classifier(REPO_ROOT / "models" / "resnet50.tflite", allow_untrained=True)
    safety = load_safety_model(None, required=False, runtime=RUNTIME_LITERT)

    def judge(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
        return preprocess(image), safety.preprocess(image) if safety else None

    inputs: dict[bool, list[tuple[np.ndarray, np.ndarray | None]]] = {True: [], False: []}
    seconds = {True: 0.0, False: 0.0}
    print(f"{'photo':<46} {'size':>9}  {'drafted':>9}  rendition  mean |diff|  max |diff|")
    for path in photos:
        data = path.read_bytes()
        served = {}
        for draft in (False, True):
            started = time.perf_counter()
            rendition = make_rendition(data, judge, rules=RenditionRules(draft=draft))
            seconds[draft] += time.perf_counter() - started
            inputs[draft].append(rendition.judged[0])
            served[draft] = np.asarray(Image.open(io.BytesIO(rendition.data)).convert("RGB"), dtype=np.int16)
        difference = np.abs(served[True] - served[False])
        size = Image.open(path).size
        drafted = Image.open(path)
        drafted.draft("RGB", draft_size(size, rules.long_side))
        print(
            f"{path.name[:46]:<46} {size[0]:>4}x{size[1]:<4}  {drafted.size[0]:>4}x{drafted.size[1]:<4}  "
            f"{served[True].shape[1]:>4}x{served[True].shape[0]:<4}  {difference.mean():>11.2f}  {difference.max():>10}"
        )
    for name, position, predict in [("ResNet50", 0, model.predict), ("safety", 1, safety.predict if safety else None)]:
        if predict is None:
            print(f"{name}: not measured (no model; run `make models`)")
            continue
        full = predict(np.stack([row[position] for row in inputs[False]]))
        drafted_p = predict(np.stack([row[position] for row in inputs[True]]))
        agree = sum(int(np.argmax(a) == np.argmax(b)) for a, b in zip(drafted_p, full, strict=True))
        weights = f" (weights {model.info.weights})" if name == "ResNet50" else ""
        print(
            f"{name}{weights}: max probability difference {np.abs(drafted_p - full).max():.3f}, "
            f"top-1 agreement {agree}/{len(photos)}"
        )
    print(
        f"rendition + preprocess: full decode {seconds[False]:.2f} s, draft {seconds[True]:.2f} s "
        f"(ratio {seconds[True] / seconds[False]:.2f})"
    )


if __name__ == "__main__":
    main()
