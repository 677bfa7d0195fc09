"""The converted safety model against the original over a whole folder: nsfwjs in Node (wasm backend) vs ours.

    python -m bench.safety_parity DIR [--backend wasm|cpu]

Two runs of the original: on Pillow's decoded pixels (the same ones our classifier sees, so any difference is
preprocessing + model), and on the JPEG files decoded in Node by jpeg-js (what a Node user of nsfwjs gets). Prints
the largest probability difference on the same pixels and the top-class counts of all three.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from infra.paths import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]

from classify.imaging import decode_image  # noqa: E402
from classify.safety import SAFETY_CLASSES, SAFETY_MODEL_FILE, load_safety_model  # noqa: E402

TOOLS = REPO_ROOT / "tools" / "nsfw"
GOLDEN_PHOTO = REPO_ROOT.parent / "shared" / "data" / "dog.jpeg"


def original(listing: list[dict], folder: Path, backend: str) -> list[np.ndarray]:
    (folder / "images.json").write_text(json.dumps(listing), encoding="utf-8")
    done = subprocess.run(
        ["node", str(TOOLS / "reference.js"), "MobileNetV2", str(folder / "images.json"), backend],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"nsfwjs in Node failed:\n{done.stderr[-2000:]}")
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [np.array([row["probabilities"][name.capitalize()] for name in SAFETY_CLASSES]) for row in rows]


def counts(rows: list[np.ndarray]) -> str:
    tops = Counter(SAFETY_CLASSES[int(np.argmax(row))] for row in rows)
    return ", ".join(f"{name} {tops[name]}" for name in SAFETY_CLASSES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--backend", choices=("wasm", "cpu"), default="wasm")
    options = parser.parse_args()
    files = sorted(path for path in options.folder.iterdir() if path.suffix.lower() in (".jpg", ".jpeg"))
    files.append(GOLDEN_PHOTO)
    model = load_safety_model(str(REPO_ROOT / "models" / SAFETY_MODEL_FILE), required=True)
    assert model is not None

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        images, listing = [], []
        for number, path in enumerate(files):
            image = decode_image(path.read_bytes())
            pixels = np.asarray(image)
            (folder / f"{number}.rgb").write_bytes(pixels.tobytes())
            listing.append({"path": f"{number}.rgb", "height": pixels.shape[0], "width": pixels.shape[1]})
            images.append(image)
        same_pixels = original(listing, folder, options.backend)
        jpeg_js = original([{"path": str(path.resolve())} for path in files], folder, options.backend)
    ours = [
        row
        for start in range(0, len(images), 16)
        for row in model.predict(np.stack([model.preprocess(image) for image in images[start : start + 16]]))
    ]

    worst = max(float(np.abs(a - b).max()) for a, b in zip(same_pixels, ours, strict=True))
    print(f"{len(files)} photos, nsfwjs {model.info.version} MobileNetV2 in Node ({options.backend} backend)")
    print(f"  ours, Pillow pixels:            {counts(ours)}")
    print(f"  original, the same pixels:      {counts(same_pixels)}   largest difference {worst:.1e}")
    print(f"  original, jpeg-js in Node:      {counts(jpeg_js)}")
    for path, a, b in zip(files, jpeg_js, same_pixels, strict=True):
        if np.argmax(a) != np.argmax(b):
            print(
                f"    decoders disagree on {path.name}: jpeg-js {SAFETY_CLASSES[int(np.argmax(a))]} {a.max():.2f}, "
                f"Pillow {SAFETY_CLASSES[int(np.argmax(b))]} {b.max():.2f}"
            )


if __name__ == "__main__":
    main()
