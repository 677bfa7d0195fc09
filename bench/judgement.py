"""How the whole verdict treats a folder of ImageNet-named photos: top-1/top-5, flagged recall and false flags.

    python -m bench.judgement DIR [--classifier resnet50|efficientnet-lite0]

Files are named `<wnid>_<label>.<ext>`. A photo is "flagged" when the policy lists its true class in one of its
ImageNet categories: the flagged recall is the share of those the verdict does not `allow` (per category: the
share of the category's photos not allowed). A "false flag" is an unflagged photo that is not allowed (per
category: unflagged photos that category's rules fired on). The verdict is the service's: the classifier and the
two explicit-content models together, on the pixels of the display rendition, through the served runtimes,
as the classify function decides (first frame: the samples are stills).

Without --classifier it judges with the classifier a local stack runs (ResNet50 when its ImageNet file is in
models/, else EfficientNet-Lite0). JSON and a PNG go to reports/; the last line is the summary (judgement_line).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import reports
from infra.build.served_models import EFFICIENTNET_LITE0, RESNET50, RESNET50_WEIGHTS, local_classifier
from infra.paths import REPO_ROOT

NAMED = re.compile(r"^(?P<wnid>n\d{8})_")
BATCH = 16
ALLOW = "allow"


@dataclass(frozen=True)
class Judged:
    """One photo: its true class, the classifier's top 5 and the verdict with the categories that fired."""

    file: str
    truth: str
    top5: tuple[str, ...]
    verdict: str
    categories: tuple[str, ...]


def summarise(photos: Sequence[Judged], listed: Mapping[str, str]) -> dict[str, Any]:
    """The figures of the judgement line, overall and per ImageNet category (listed: {wnid: category})."""
    flagged = [photo for photo in photos if photo.truth in listed]
    unflagged = [photo for photo in photos if photo.truth not in listed]
    caught = [photo for photo in flagged if photo.verdict != ALLOW]
    false_flags = [photo for photo in unflagged if photo.verdict != ALLOW]
    categories: dict[str, dict[str, Any]] = {}
    for category in sorted(set(listed.values())):
        own = [photo for photo in flagged if listed[photo.truth] == category]
        fired = [photo for photo in unflagged if category in photo.categories]
        categories[category] = {
            "photos": len(own),
            "not_allowed": sum(photo.verdict != ALLOW for photo in own),
            "missed": [photo.file for photo in own if photo.verdict == ALLOW],
            "false_flags": len(fired),
            "false_flag_files": [photo.file for photo in fired],
        }
    count = len(photos) or 1
    return {
        "photos": len(photos),
        "top1": sum(photo.top5[:1] == (photo.truth,) for photo in photos) / count,
        "top5": sum(photo.truth in photo.top5 for photo in photos) / count,
        "flagged": len(flagged),
        "flagged_not_allowed": len(caught),
        "flagged_recall": len(caught) / len(flagged) if flagged else 0.0,
        "unflagged": len(unflagged),
        "false_flags": len(false_flags),
        "false_flag_share": len(false_flags) / len(unflagged) if unflagged else 0.0,
        "false_flag_files": [photo.file for photo in false_flags],
        "missed_files": [photo.file for photo in flagged if photo.verdict == ALLOW],
        "categories": categories,
    }


def judgement_line(summary: Mapping[str, Any], name: str, weights: str) -> str:
    return (
        f"judgement: {summary['photos']} photos, classifier {name} ({weights}), top-1 {summary['top1']:.2f}, "
        f"top-5 {summary['top5']:.2f}, flagged recall {summary['flagged_recall']:.2f} "
        f"({summary['flagged_not_allowed']}/{summary['flagged']}), false flags {summary['false_flag_share']:.2f} "
        f"({summary['false_flags']}/{summary['unflagged']})"
    )


def write_report(summary: Mapping[str, Any], photos: Iterable[Judged], title: str, out_dir: Path | None = None):  # type: ignore[no-untyped-def]
    """reports/judgement.json and reports/judgement.png (per category: flagged recall and false flags)."""
    out_dir = out_dir or reports.REPORTS_DIR
    document = {"summary": dict(summary), "photos": [photo.__dict__ for photo in photos]}
    json_path = reports._write_json(out_dir / "judgement.json", document)  # noqa: SLF001 - the reports' own writer
    categories = summary["categories"]
    names = list(categories)
    recall = [row["not_allowed"] / row["photos"] if row["photos"] else 0.0 for row in categories.values()]
    false = [row["false_flags"] / summary["unflagged"] if summary["unflagged"] else 0.0 for row in categories.values()]
    figure, axis = reports.plt.subplots(figsize=(8, 0.5 * len(names) + 1.8))
    positions = range(len(names))
    axis.barh([p - 0.2 for p in positions], recall, height=0.4, color="tab:green", label="flagged: not allowed")
    axis.barh([p + 0.2 for p in positions], false, height=0.4, color="tab:red", label="unflagged: fired on")
    for position, row in zip(positions, categories.values(), strict=True):
        axis.text(1.01, position, f"{row['not_allowed']}/{row['photos']}, {row['false_flags']} false", va="center")
    axis.set_yticks(list(positions), names)
    axis.set_xlim(0, 1.35)
    axis.invert_yaxis()
    axis.set_xlabel("share")
    axis.legend(fontsize="small", loc="lower right")
    axis.set_title(title, fontsize="small")
    figure.tight_layout()
    png_path = out_dir / "judgement.png"
    figure.savefig(png_path, dpi=80)
    reports.plt.close(figure)
    return json_path, png_path


def load_judges(classifier_name: str | None = None) -> tuple[Any, Any, Any, Any, Any]:
    """What the classify path judges with, served as in the function: the classifier (as `make up` picks it unless
    named), nsfwjs, Open-NSFW, the class index and the shipped policy. The caller puts functions/ on sys.path."""
    from classify.labels import ClassIndex
    from classify.model import RUNTIME_LITERT, load_classifier
    from classify.open_nsfw import load_open_nsfw
    from classify.policy import ModerationPolicy
    from classify.safety import load_safety_model

    name = classifier_name or local_classifier()[0]
    served = REPO_ROOT / "models" / f"{name}.tflite"
    classifier = load_classifier(RUNTIME_LITERT, str(RESNET50_WEIGHTS), True, str(served), classifier=name)
    safety = load_safety_model(str(REPO_ROOT / "models" / "nsfwjs_mobilenet_v2.keras"), True, RUNTIME_LITERT)
    second = load_open_nsfw(str(REPO_ROOT / "models" / "open_nsfw.onnx"), required=True)
    assert safety is not None and second is not None
    class_index = ClassIndex.from_file()
    return classifier, safety, second, class_index, ModerationPolicy.from_file(class_index=class_index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--classifier", choices=(RESNET50, EFFICIENTNET_LITE0))
    options = parser.parse_args()
    sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]
    import numpy as np

    from classify.imaging import ImageRejected
    from classify.labels import top_k
    from classify.rendition import make_rendition

    files = sorted(path for path in options.folder.iterdir() if NAMED.match(path.name))
    if not files:
        raise SystemExit(f"no files named <wnid>_<label>.* in {options.folder}")
    classifier, safety, second, class_index, policy = load_judges(options.classifier)
    photos: list[Judged] = []
    for start in range(0, len(files), BATCH):
        chunk, inputs = [], []
        for path in files[start : start + BATCH]:
            try:
                # The classify path's own decode: the rendition, each model's input made from it (first frame:
                # the samples are stills).
                rendition = make_rendition(
                    path.read_bytes(),
                    lambda image: (classifier.preprocess(image), safety.preprocess(image), second.preprocess(image)),
                )
                inputs.append(rendition.judged[0])
                chunk.append(path)
            except ImageRejected as rejection:
                print(f"  rejected {path.name}: {rejection.code}")
        rows = classifier.predict(np.stack([model for model, _, _ in inputs]))
        safety_rows = safety.predict(np.stack([nsfwjs for _, nsfwjs, _ in inputs]))
        second_rows = second.predict(np.stack([open_nsfw for _, _, open_nsfw in inputs]))
        for path, row, safety_row, second_row in zip(chunk, rows, safety_rows, second_rows, strict=True):
            verdict = policy.decide(row, safety_row, float(second_row))
            photos.append(
                Judged(
                    file=path.name,
                    truth=NAMED.match(path.name)["wnid"],  # type: ignore[index]
                    top5=tuple(label.wnid for label in top_k(row, class_index, 5)),
                    verdict=verdict.action,
                    categories=tuple(dict.fromkeys(reason.category for reason in verdict.reasons)),
                )
            )
        print(f"  {len(photos)}/{len(files)} photos", flush=True)

    summary = summarise(photos, policy.listed_classes)
    name, weights = classifier.info.name, classifier.info.weights
    print(
        f"policy {policy.version}; safety models {safety.info.name} {safety.info.version} and {second.info.name}; "
        "runtime LiteRT (Open-NSFW: ONNX Runtime); pixels from the display rendition"
    )
    for category, row in summary["categories"].items():
        missed = f"; missed: {', '.join(row['missed'])}" if row["missed"] else ""
        print(
            f"  {category:24s} flagged {row['not_allowed']}/{row['photos']} not allowed, "
            f"false flags {row['false_flags']}/{summary['unflagged']}{missed}"
        )
    if summary["false_flag_files"]:
        print(f"  false flags (any category, the safety model's included): {', '.join(summary['false_flag_files'])}")
    if weights == "untrained":
        print("UNTRAINED WEIGHTS: the figures below are what random weights give, NOT the model's judgement.")
    title = f"make eval: {name} ({weights}), policy {policy.version}"
    print("report: " + ", ".join(str(path) for path in write_report(summary, photos, title)))
    print(judgement_line(summary, name, weights))


if __name__ == "__main__":
    main()
