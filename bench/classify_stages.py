"""Where a 12-MP phone photo's time goes on the classify path: each stage of the rendition and of each model, alone.

    python -m bench.classify_stages [--photos DIR] [--phones 8] [--repeats 3]

Runs in one process, with the served runtime (LiteRT for the classifier and nsfwjs, ONNX Runtime for Open-NSFW) and
the classify function's own code for every stage, in the order the path runs them on one photo: the upload's decode
(JPEG draft), EXIF orientation, ICC conversion, flattening to RGB, the reduction to the rendition's long side, the
JPEG encode, the served bytes decoded again for the models (at the judged DCT scale, and in full for comparison),
each model's preprocessing, then each model's forward pass at batch 8. A stage's figure is its CPU time (the
fastest of --repeats, so the other users of a shared machine cost it little); forward passes use every core, so
their wall time is given beside their CPU time. The last lines compare the CPU the rendition and preprocessing take
per photo with the forward passes' CPU: on a machine whose cores the forward passes already fill, that share bounds
the classify path's throughput against the raw models (the phone-photo ratio of `make bench`).
"""

import argparse
import dataclasses
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.classify_bench import DEFAULT_PHOTOS
from bench.draft_rule import PHONE_FOLDER
from bench.phone_photos import phone_photos
from infra.paths import REPO_ROOT

MODELS = REPO_ROOT / "models"
BATCH = 8


def fastest_cpu_ms(run: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    """The result of `run` and its smallest CPU time (this thread), in ms."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.thread_time()
        result = run()
        best = min(best, time.thread_time() - started)
    return result, 1000 * best


def time_photo(data: bytes, rules: Any, models: dict[str, Any], stage: Callable[[str, Callable[[], Any]], Any]) -> dict:
    """Times each stage of one photo's rendition and preprocessing through `stage`; each model's input."""
    from classify import rendition as renditions
    from classify.imaging import apply_exif_orientation, exif_orientation, to_rgb

    def decode() -> Image.Image:
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", renditions.draft_size(image.size, rules.long_side))
        image.load()
        return image

    image = stage("decode the upload (JPEG draft)", decode)
    orientation = exif_orientation(image)
    upright = stage("EXIF orientation", lambda: apply_exif_orientation(image, orientation))
    srgb = stage("ICC to sRGB", lambda: renditions.to_srgb(upright))
    rgb = stage("flatten to RGB", lambda: to_rgb(srgb, renditions.BACKGROUND))
    target = renditions.rendition_size(rgb.size, rules.long_side)
    reduce = renditions._REDUCE
    # As the path: no reduction where the DCT-scaled decode is already the rendition's size.
    shown = stage(
        f"reduce to {rules.long_side} px ({reduce.name.lower()})",
        lambda: rgb if rgb.size == target else rgb.resize(target, reduce),
    )
    stage("  (for comparison: lanczos)", lambda: rgb if rgb.size == target else rgb.resize(target, Image.LANCZOS))
    encoded = stage(
        f"encode the rendition (JPEG q{rules.quality} 4:4:4)", lambda: renditions.encode(shown, rules.quality)
    )

    def served(draft: bool) -> Image.Image:
        image = Image.open(io.BytesIO(encoded))
        if draft:
            image.draft("RGB", (rules.judged_min_side, rules.judged_min_side))
        image.load()
        return image

    judged = stage(
        f"decode the rendition for the models (DCT scale, >= {rules.judged_min_side} px)", lambda: served(True)
    )
    full = stage("  (for comparison: in full)", lambda: served(False))
    inputs = {}
    for name, model in models.items():
        inputs[name] = stage(f"{name} preprocessing", lambda m=model: m.preprocess(judged))
        stage(f"  (for comparison: {name} preprocessing of the full decode)", lambda m=model: m.preprocess(full))
    return inputs


def main() -> None:
    sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]
    from classify import rendition as renditions
    from classify.model import load_served_classifier
    from classify.open_nsfw import load_open_nsfw
    from classify.safety import load_safety_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="folder of real photos")
    parser.add_argument("--phones", type=int, default=8, help="12-MP phone photos to time")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each stage (the fastest counts)")
    parser.add_argument(
        "--long-side", type=int, default=None, help="the rendition's long side (default: RenditionRules' default)"
    )
    parser.add_argument(
        "--phone-size", default="4000x3000", help="the phone photos' WIDTHxHEIGHT (4032x3024: another 12-MP sensor)"
    )
    options = parser.parse_args()
    width, height = (int(side) for side in options.phone_size.split("x"))
    sources = sorted(p for p in options.photos.iterdir() if p.is_file())
    phones = phone_photos(sources, PHONE_FOLDER, options.phones, (width, height))
    classifier = load_served_classifier(MODELS / "resnet50.tflite", allow_untrained=True)
    safety = load_safety_model(str(MODELS / "nsfwjs_mobilenet_v2.keras"), required=True, runtime="litert")
    second = load_open_nsfw(str(MODELS / "open_nsfw.onnx"), required=True)
    assert safety is not None and second is not None
    rules = renditions.RenditionRules()
    if options.long_side is not None:
        rules = dataclasses.replace(rules, long_side=options.long_side)
    models = {"classifier": classifier, "nsfwjs": safety, "Open-NSFW": second}

    stages: dict[str, list[float]] = {}
    inputs: dict[str, list[np.ndarray]] = {name: [] for name in models}

    def stage(name: str, run: Callable[[], Any]) -> Any:
        result, ms = fastest_cpu_ms(run, options.repeats)
        stages.setdefault(name, []).append(ms)
        return result

    for path in phones:
        for name, pixels in time_photo(path.read_bytes(), rules, models, stage).items():
            inputs[name].append(pixels)

    print(
        f"{len(phones)} phone photos ({width}x{height}), rendition long side {rules.long_side} px, CPU ms per photo, "
        f"the fastest of {options.repeats} runs:"
    )
    path_cpu = 0.0
    for name, values in stages.items():
        print(f"  {name:78s} {np.mean(values):7.1f}")
        path_cpu += 0.0 if name.startswith("  (") else float(np.mean(values))
    print(f"  {'rendition and preprocessing, all':78s} {path_cpu:7.1f}")
    forward_cpu = 0.0
    for name, model in models.items():
        batch = np.stack(inputs[name][:BATCH])
        model.predict(batch)  # the first call per batch size allocates
        walls, cpus = [], []
        for _ in range(options.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            model.predict(batch)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        wall_ms, cpu_ms = 1000 * min(walls) / len(batch), 1000 * min(cpus) / len(batch)
        forward_cpu += cpu_ms
        label = f"{name} forward pass at batch {len(batch)} (wall ms | CPU ms per photo)"
        print(f"  {label:78s} {wall_ms:7.1f} | {cpu_ms:.1f}")
    print(
        f"CPU per photo: rendition and preprocessing {path_cpu:.1f} ms, forward passes {forward_cpu:.1f} ms; "
        f"bound on the phone-photo ratio when the forward passes fill every core: "
        f"{forward_cpu / (forward_cpu + path_cpu):.2f}"
    )


if __name__ == "__main__":
    main()
