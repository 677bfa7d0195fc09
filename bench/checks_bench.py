"""What the checks beyond the models cost: the classify path's per-photo time without checks, with each check alone and
with all of them, measured side by side in one run on the same photos.

    python -m bench.checks_bench --photos DIR [--checks faces,...] [--policy FILE] [--rounds N] [--limit N]
                                 [--json PATH]

The path is the one a photo takes through classify (classify.judging.judge_photo: one decode, the display rendition,
the checks on its pixels, then ResNet50 and both explicit-content models), one photo at a time, on the served
runtimes (a check's retouch, blurred faces, is made and timed, though judge_photo then judges the photo's own
pixels). Each configuration is a Classification that differs only in its `checks`; every photo is judged by every
configuration in turn (the order rotating per photo), so a noisy moment of a shared machine falls on all of them
alike. Printed per configuration: the mean and median time per photo, the added cost against no checks,
and the throughput as a ratio of the no-check path's; per check also its own time inside the all-checks run (from
classify.checks' timings). The target (issue 20): all checks together add at most half of the ResNet50 path's
per-photo time, judged by the larger of the side-by-side difference and the checks' own time (the difference
carries the machine's noise); the last lines say whether it is met. The policy is the built-in one (faces
counted, not blurred) unless --policy names a shop's document (e.g. one with `checks.faces.blur`, to measure
blurring too).

A check is measured once it has an entry in CHECKS: its name (the Prediction field) and a function that loads it
with its model from models/ (`make models`), failing when the model is missing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.paths import REPO_ROOT

if TYPE_CHECKING:
    from classify.checks import Check

MODELS = REPO_ROOT / "models"
# The target: all checks together add at most this share of the no-check ResNet50 path's per-photo time.
TARGET_ADDED_SHARE = 0.5
NO_CHECKS = "none"
ALL_CHECKS = "all"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".gif", ".tif", ".tiff", ".bmp"}


def _text() -> Check:
    from classify.ocr import load_reader
    from classify.text_check import TextCheck

    return TextCheck(load_reader())


def _photo_bank() -> Check:
    from classify.photo_bank import PhotoBankCheck

    # The hashes of every orientation and an empty in-memory bank: no table here (its lookups are measured in
    # docs/benchmark.md, "Photo bank").
    return PhotoBankCheck(None, None)


def _faces() -> Check:
    from classify.faces import MODEL_FILE, FacesCheck, load_face_detector

    detector = load_face_detector(str(MODELS / MODEL_FILE), required=True)
    assert detector is not None
    return FacesCheck(detector)


# The checks to measure, in classify.app's order (a retouching check last), each loaded with its model.
CHECKS: dict[str, Callable[[], Check]] = {
    "text": _text,
    "photo_bank": _photo_bank,
    "faces": _faces,
}


def configurations(names: Sequence[str]) -> list[str]:
    """No checks, each named check alone, and all of them (when there are several)."""
    return [NO_CHECKS, *names, *([ALL_CHECKS] if len(names) > 1 else [])]


def summarise(times_s: Mapping[str, Sequence[float]], own_ms: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    """Per configuration: mean/median ms per photo, the ms added against no checks, the throughput ratio; the target."""
    base = statistics.fmean(times_s[NO_CHECKS]) * 1000
    rows: dict[str, Any] = {}
    for name, times in times_s.items():
        mean = statistics.fmean(times) * 1000
        rows[name] = {
            "photos": len(times),
            "mean_ms": round(mean, 2),
            "median_ms": round(statistics.median(times) * 1000, 2),
            "added_ms": round(mean - base, 2),
            "throughput_ratio": round(base / mean, 3),
        }
    every = ALL_CHECKS if ALL_CHECKS in rows else next(name for name in rows if name != NO_CHECKS)
    own = {name: statistics.fmean(values) for name, values in own_ms.items() if values}
    # Judged by the larger of the two measures of what the checks add: the difference of the side-by-side runs
    # (which also counts what a check costs around it, but carries the machine's noise) and the checks' own time.
    added_ms = max(rows[every]["added_ms"], sum(own.values()))
    added_share = added_ms / base
    return {
        "configurations": rows,
        "own_ms": {name: round(spent, 2) for name, spent in own.items()},
        "added_ms": round(added_ms, 2),
        "no_checks_ms": round(base, 2),
        "all_checks": every,
        "added_share": round(added_share, 3),
        "target_added_share": TARGET_ADDED_SHARE,
        "met": added_share <= TARGET_ADDED_SHARE,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "imagenet-samples")
    parser.add_argument("--checks", help=f"comma-separated, of {sorted(CHECKS)} (default: all)")
    parser.add_argument("--policy", type=Path, help="a shop's policy document (default: the built-in policy)")
    parser.add_argument("--rounds", type=int, default=1, help="passes over the photos per configuration")
    parser.add_argument("--limit", type=int, help="the first N photos only")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "reports" / "checks-bench.json")
    options = parser.parse_args()
    names = options.checks.split(",") if options.checks else list(CHECKS)
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        raise SystemExit(f"unknown check(s) {unknown}; the checks are {sorted(CHECKS)}")
    sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]

    from classify.imaging import ImageRejected
    from classify.judging import judge_photo
    from classify.labels import ClassIndex
    from classify.model import RUNTIME_LITERT, load_classifier
    from classify.open_nsfw import load_open_nsfw
    from classify.policy import ModerationPolicy
    from classify.safety import load_safety_model
    from classify.service import Classification

    files = sorted(path for path in options.photos.iterdir() if path.suffix.lower() in PHOTO_SUFFIXES)
    photos = [(path.name, path.read_bytes()) for path in files[: options.limit]]
    if not photos:
        raise SystemExit(f"no photos in {options.photos}")
    weights = MODELS / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    classifier = load_classifier(
        RUNTIME_LITERT, str(weights), True, str(MODELS / "resnet50.tflite"), classifier="resnet50"
    )
    class_index = ClassIndex.from_file()
    base = Classification(
        photos=None,  # type: ignore[arg-type]  # judge_photo reads nothing and stores nothing
        predictions=None,  # type: ignore[arg-type]
        model=classifier,
        policy=ModerationPolicy.from_file(options.policy, class_index=class_index),
        class_index=class_index,
        read_events=lambda body: [],
        safety=load_safety_model(str(MODELS / "nsfwjs_mobilenet_v2.keras"), True, RUNTIME_LITERT),
        second_opinion=load_open_nsfw(str(MODELS / "open_nsfw.onnx"), required=True),
    )
    loaded = {name: CHECKS[name]() for name in names}
    works = {
        name: replace(
            base,
            checks=() if name == NO_CHECKS else tuple(loaded.values()) if name == ALL_CHECKS else (loaded[name],),
        )
        for name in configurations(names)
    }
    print(
        f"{len(photos)} photos from {options.photos}, {options.rounds} round(s); classifier {classifier.info.name} "
        f"({classifier.info.weights} weights: the time is the same, the labels would not be), nsfwjs and Open-NSFW; "
        f"checks {', '.join(names)}; policy {base.policy.version}; configurations {', '.join(works)}",
        flush=True,
    )
    for work in works.values():  # warm-up: first calls allocate
        judge_photo(photos[0][1], work)
    times: dict[str, list[float]] = {name: [] for name in works}
    own: dict[str, list[float]] = {name: [] for name in names}
    order = list(works)
    rejected = set()
    for _ in range(options.rounds):
        for index, (file, data) in enumerate(photos):
            if file in rejected:
                continue
            rotation = order[index % len(order) :] + order[: index % len(order)]
            for name in rotation:
                started = time.perf_counter()
                try:
                    judged = judge_photo(data, works[name])
                except ImageRejected as rejection:
                    print(f"  rejected {file}: {rejection.code}")
                    rejected.add(file)
                    break
                times[name].append(time.perf_counter() - started)
                if name == (ALL_CHECKS if ALL_CHECKS in works else names[0]):
                    for check, spent in judged.checks.timings_ms.items():
                        own[check].append(spent)
    summary = summarise(times, own)
    print(f"{'configuration':16s} {'mean ms':>9s} {'median ms':>10s} {'added ms':>9s} {'throughput':>11s}")
    for name, row in summary["configurations"].items():
        print(
            f"{name:16s} {row['mean_ms']:9.1f} {row['median_ms']:10.1f} {row['added_ms']:+9.1f} "
            f"{row['throughput_ratio']:10.2f}x"
        )
    for check, spent in summary["own_ms"].items():
        print(f"  {check}: {spent:.1f} ms per photo of its own (classify.checks' timing, in the all-checks run)")
    verdict = "PASS" if summary["met"] else "FAIL"
    print(
        f"checks: all checks ({summary['all_checks']}) add {summary['added_ms']:.1f} ms, {summary['added_share']:.1%} "
        f"of the no-check ResNet50 path's {summary['no_checks_ms']:.1f} ms per photo (the larger of the side-by-side "
        f"difference and their own time); {verdict} (target <= {TARGET_ADDED_SHARE:.0%})"
    )
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"report: {options.json}")


if __name__ == "__main__":
    main()
