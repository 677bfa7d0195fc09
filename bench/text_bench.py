"""The text check's added cost per photo, photos without text and with text apart (`make bench`).

    python -m bench.text_bench [--photos DIR] [--count 24] [--rounds 2] [--json reports/text-bench.json]

Each of the first --count photos of DIR (at least 300 px wide) is measured as the check sees it, the rendition's
pixels (classify.rendition), untouched and with a line of review spam overlaid (bench.text_eval.overlay), at its
own size and enlarged to the rendition's 1600 px long side (what a 12-MP phone photo becomes). The check runs as
it ships (classify.ocr's rapidocr, the built-in policy); detection and recognition are timed apart by wrapping
rapidocr's two models, and a photo counts as "recognition ran" when detection found a box in it. Prints the median
and 90th percentile per group (wall time, and the CPU time of all threads, which a busy machine inflates less), the
model load (cold start) time and the resident memory it adds.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

from infra.paths import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]

from bench.text_eval import DEFAULT_PHOTOS, MIN_OVERLAY_WIDTH, jpeg, overlay, rendition_pixels  # noqa: E402
from classify.checks import Subject  # noqa: E402
from classify.ocr import load_reader  # noqa: E402
from classify.policy import ModerationPolicy  # noqa: E402
from classify.rendition import RenditionRules  # noqa: E402
from classify.text_check import TextCheck  # noqa: E402

SPAM = "call +1 415 555 0199"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timed:
    """Wraps one of rapidocr's models: the milliseconds of each call since the last `take()`."""

    def __init__(self, model: Any) -> None:
        self.model, self.calls = model, []

    def __call__(self, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.model(*args)
        finally:
            self.calls.append((time.perf_counter() - started) * 1000)

    def take(self) -> list[float]:
        calls, self.calls = self.calls, []
        return calls


def _enlarged(image: Image.Image, long_side: int) -> Image.Image:
    scale = long_side / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))], 1),
    }


def measure(photos: Path, count: int, rounds: int) -> dict[str, Any]:
    paths = sorted(path for path in photos.iterdir() if path.suffix.lower() in (".jpeg", ".jpg", ".png"))
    paths = [path for path in paths if Image.open(path).width >= MIN_OVERLAY_WIDTH][:count]
    if not paths:
        raise SystemExit(f"no photos at least {MIN_OVERLAY_WIDTH} px wide in {photos}: nothing to measure")
    before = _rss_mb()
    started = time.perf_counter()
    reader = load_reader()
    load_s = time.perf_counter() - started
    loaded = _rss_mb()
    engine = reader._engine  # rapidocr's models, loaded by the warm-up: timed apart here, and only here
    detection, recognition = Timed(engine.text_det), Timed(engine.text_rec)
    engine.text_det, engine.text_rec = detection, recognition
    check, policy = TextCheck(reader), ModerationPolicy.from_file()
    long_side = RenditionRules().long_side
    groups: dict[str, dict[str, list[float]]] = {}
    flagged: dict[str, int] = {}
    for number, path in enumerate(paths):
        with Image.open(path) as photo:
            plain = rendition_pixels(path.read_bytes())
            spam = rendition_pixels(jpeg(overlay(photo, SPAM, number)))
        for size, pixels in (
            ("own size", (plain, spam)),
            (f"{long_side} px", tuple(_enlarged(p, long_side) for p in (plain, spam))),
        ):
            for label, image in zip(("without text", "with text"), pixels, strict=True):
                group = groups.setdefault(
                    f"{label}, {size}", {"check": [], "cpu": [], "detection": [], "recognition": []}
                )
                for _ in range(rounds):
                    detection.take(), recognition.take()
                    began, began_cpu = time.perf_counter(), time.process_time()
                    result = check.inspect(Subject(path.stem, path.name, image), policy)
                    group["check"].append((time.perf_counter() - began) * 1000)
                    group["cpu"].append((time.process_time() - began_cpu) * 1000)
                    group["detection"].append(sum(detection.take()))
                    group["recognition"].append(sum(recognition.take()))
                key = f"{label}, {size}"
                flagged[key] = flagged.get(key, 0) + bool(result.reasons)
    return {
        "photos": len(paths),
        "rounds": rounds,
        "engine": reader.info.model_dump(),
        "load_s": round(load_s, 2),
        "rss_added_by_loading_mb": round(loaded - before, 1),
        "peak_rss_mb": round(_rss_mb(), 1),
        "groups": {
            name: {
                "check_ms": _summary(values["check"]),
                "check_cpu_ms": _summary(values["cpu"]),
                "detection_ms": _summary(values["detection"]),
                "recognition_ms": _summary(values["recognition"]),
                "recognition_ran": f"{sum(ms > 0 for ms in values['recognition'])}/{len(values['recognition'])}",
                "flagged": f"{flagged[name]}/{len(paths)}",
            }
            for name, values in groups.items()
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.text_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "reports" / "text-bench.json")
    options = parser.parse_args(argv)
    report = measure(options.photos, options.count, options.rounds)
    engine = report["engine"]
    print(
        f"== text check, added cost per photo ({report['photos']} photos x {report['rounds']} rounds; rapidocr "
        f"{engine['version']}, detection at {engine['detection_side']} px)"
    )
    print(f"  models loaded (cold start) in {report['load_s']} s, +{report['rss_added_by_loading_mb']} MB resident")
    for name, group in report["groups"].items():
        check, det, rec = group["check_ms"], group["detection_ms"], group["recognition_ms"]
        cpu = group["check_cpu_ms"]["median"]
        print(
            f"  {name:28} check {check['median']:5.0f} ms (p90 {check['p90']:.0f}; CPU {cpu:.0f} ms);"
            f" detection {det['median']:.0f} ms,"
            f" recognition {rec['median']:.0f} ms, ran on {group['recognition_ran']}; flagged {group['flagged']}"
        )
    print(f"  peak resident memory of this process: {report['peak_rss_mb']} MB")
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"  report: {options.json}")


if __name__ == "__main__":
    main()
