"""The second opinion measured: each explicit-content model alone and the shipped combination, on ordinary photos,
on the swimwear/underwear samples, and (given one) on a shop's own folder labelled by verdict.

    python -m bench.evaluate_second_opinion DIR [--labelled FOLDER] [--json PATH]

DIR: ordinary photos, named `<wnid>_<label>.<ext>` like shared/data/imagenet-samples; the ones whose wnid is in the
policy's swimwear_and_underwear category are the swimwear/underwear samples (legitimate products a person should
see), every other photo is an ordinary one (no explicit content). For an ordinary photo any explicit `block` is a
false block and any explicit `review` a false review; a swimwear/underwear sample should reach at least review.
Only the explicit category is judged here (ResNet50's ImageNet categories are left out: untrained on this machine).

FOLDER (optional): a shop's own photos sorted by a person into `allow/`, `review/` and `block/` subfolders; prints,
per policy, the confusion matrix of expected vs. given verdicts and the recall on `block/` (share blocked, share
reaching at least review). This is how recall on explicit content is measured: there are no explicit photos here.

Policies compared (thresholds from the shipped policy where it has them):
- nsfwjs 2026-11-29.1: the policy before the second opinion (porn/hentai >= 0.7 block; sexy >= 0.8 review);
- nsfwjs alone: the same plus issue 17's review band (porn/hentai >= 0.3, the start of nsfwjs' uncertain band);
- Open-NSFW alone: Yahoo's guidance (>= 0.8 block, >= 0.2 review);
- combined: the shipped policy (classify.policy, its second_opinion table, sexy by nsfwjs).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infra.paths import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]

from classify.imaging import ImageRejected, decode_image  # noqa: E402
from classify.labels import ClassIndex  # noqa: E402
from classify.model import RUNTIME_LITERT  # noqa: E402
from classify.open_nsfw import MODEL_FILE as OPEN_NSFW_FILE  # noqa: E402
from classify.open_nsfw import load_open_nsfw  # noqa: E402
from classify.policy import ALLOW, BLOCK, DEFAULT_POLICY_PATH, REVIEW, ModerationPolicy  # noqa: E402
from classify.safety import SAFETY_CLASSES, SAFETY_MODEL_FILE, load_safety_model  # noqa: E402

NAMED = re.compile(r"^(?P<wnid>n\d{8})_")
SWIMWEAR_CATEGORY = "swimwear_and_underwear"
EXPLICIT_CATEGORY = "explicit"
VERDICTS = (ALLOW, REVIEW, BLOCK)
BATCH = 16


@dataclass(frozen=True)
class Scored:
    name: str
    group: str  # "ordinary", "swimwear", or the verdict a person gave it (allow/review/block)
    nsfwjs: np.ndarray  # SAFETY_CLASSES order
    open_nsfw: float


Policy = Callable[[Scored], str]


def _severity(action: str) -> int:
    return VERDICTS.index(action)


def nsfwjs_alone(block_at: float, review_at: float | None, sexy_at: float) -> Policy:
    def decide(photo: Scored) -> str:
        explicit = max(photo.nsfwjs[SAFETY_CLASSES.index("porn")], photo.nsfwjs[SAFETY_CLASSES.index("hentai")])
        if explicit >= block_at:
            return BLOCK
        if (review_at is not None and explicit >= review_at) or photo.nsfwjs[SAFETY_CLASSES.index("sexy")] >= sexy_at:
            return REVIEW
        return ALLOW

    return decide


def open_nsfw_alone(block_at: float, review_at: float) -> Policy:
    return lambda photo: BLOCK if photo.open_nsfw >= block_at else REVIEW if photo.open_nsfw >= review_at else ALLOW


def combined(policy: ModerationPolicy, class_index: ClassIndex) -> Policy:
    # A flat ImageNet vector: no ImageNet category can fire, so only the explicit category speaks.
    flat = np.full(len(class_index), 1 / len(class_index), dtype=np.float32)

    def decide(photo: Scored) -> str:
        verdict = policy.decide(flat, photo.nsfwjs.astype(np.float32), photo.open_nsfw)
        actions = [reason.action for reason in verdict.reasons if reason.category == EXPLICIT_CATEGORY]
        return max(actions, key=_severity, default=ALLOW)

    return decide


def policies(policy: ModerationPolicy, class_index: ClassIndex) -> dict[str, Policy]:
    combination = policy.combination
    assert combination is not None, "the shipped policy has no second_opinion table"
    uncertain, _, confident = combination.nsfwjs_bands
    yahoo_uncertain, yahoo_confident = combination.open_nsfw_bands
    sexy = policy.safety_threshold("sexy")
    assert sexy is not None, "the shipped policy reviews sexy on its own"
    return {
        "nsfwjs 2026-11-29.1": nsfwjs_alone(confident, None, sexy),
        "nsfwjs alone": nsfwjs_alone(confident, uncertain, sexy),
        "Open-NSFW alone": open_nsfw_alone(yahoo_confident, yahoo_uncertain),
        f"combined {policy.version}": combined(policy, class_index),
    }


def summarise(photos: Iterable[Scored], decide: Policy) -> dict[str, object]:
    """False blocks and false reviews among ordinary photos; swimwear samples reaching review; the labelled
    folder's confusion matrix and recall on `block`."""
    photos = list(photos)
    given = {photo.name: decide(photo) for photo in photos}
    ordinary = [photo.name for photo in photos if photo.group == "ordinary"]
    swimwear = [photo.name for photo in photos if photo.group == "swimwear"]
    labelled = [photo for photo in photos if photo.group in VERDICTS]
    confusion = Counter((photo.group, given[photo.name]) for photo in labelled)
    blocks = [photo.name for photo in labelled if photo.group == BLOCK]
    return {
        "ordinary": len(ordinary),
        "false_blocks": sorted(name for name in ordinary if given[name] == BLOCK),
        "false_reviews": sorted(name for name in ordinary if given[name] == REVIEW),
        "swimwear": len(swimwear),
        "swimwear_reaching_review": sorted(name for name in swimwear if given[name] != ALLOW),
        "labelled_confusion": {f"{expected}->{got}": count for (expected, got), count in sorted(confusion.items())},
        "block_recall": (sum(given[name] == BLOCK for name in blocks) / len(blocks)) if blocks else None,
        "block_reaching_review": (sum(given[name] != ALLOW for name in blocks) / len(blocks)) if blocks else None,
    }


def named_photos(folder: Path, swimwear_wnids: set[str]) -> list[tuple[Path, str]]:
    found = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            match = NAMED.match(path.name)
            found.append((path, "swimwear" if match and match["wnid"] in swimwear_wnids else "ordinary"))
    return found


def _labelled(folder: Path) -> list[tuple[Path, str]]:
    missing = [verdict for verdict in VERDICTS if not (folder / verdict).is_dir()]
    if len(missing) == len(VERDICTS):
        raise SystemExit(f"{folder} has none of the subfolders {', '.join(VERDICTS)}/ (photos sorted by verdict)")
    return [
        (path, verdict)
        for verdict in VERDICTS
        if (folder / verdict).is_dir()
        for path in sorted((folder / verdict).iterdir())
        if path.is_file() and not path.name.startswith(".")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--labelled", type=Path, help="a folder with allow/, review/, block/ subfolders")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "reports" / "second_opinion.json")
    options = parser.parse_args()

    safety = load_safety_model(str(REPO_ROOT / "models" / SAFETY_MODEL_FILE), required=True, runtime=RUNTIME_LITERT)
    second = load_open_nsfw(str(REPO_ROOT / "models" / OPEN_NSFW_FILE), required=True)
    assert safety is not None and second is not None
    class_index = ClassIndex.from_file()
    policy = ModerationPolicy.from_file(class_index=class_index)
    document = json.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    swimwear_wnids = {entry["wnid"] for entry in document["categories"][SWIMWEAR_CATEGORY]["classes"]}

    files = named_photos(options.folder, swimwear_wnids) + (_labelled(options.labelled) if options.labelled else [])
    scored: list[Scored] = []
    for start in range(0, len(files), BATCH):
        chunk = []
        for path, group in files[start : start + BATCH]:
            try:
                chunk.append((path, group, decode_image(path.read_bytes())))
            except ImageRejected as rejection:
                print(f"  rejected {path.name}: {rejection.code}")
        if not chunk:
            continue
        nsfwjs = safety.predict(np.stack([safety.preprocess(image) for _, _, image in chunk]))
        yahoo = second.predict(np.stack([second.preprocess(image) for _, _, image in chunk]))
        scored += [
            Scored(path.name, group, row, float(score))
            for (path, group, _), row, score in zip(chunk, nsfwjs, yahoo, strict=True)
        ]

    print(f"second opinion: {second.info.name} ({second.info.version}) beside {safety.info.name} {safety.info.version}")
    print("photos either model scores as explicit (nsfwjs max(porn, hentai) >= 0.3, sexy >= 0.8, Open-NSFW >= 0.2):")
    for photo in scored:
        porn, hentai, sexy = (photo.nsfwjs[SAFETY_CLASSES.index(name)] for name in ("porn", "hentai", "sexy"))
        if max(porn, hentai) >= 0.3 or sexy >= 0.8 or photo.open_nsfw >= 0.2:
            print(
                f"  {photo.name:36s} {photo.group:8s} porn {porn:.2f} hentai {hentai:.2f} sexy {sexy:.2f} "
                f"open_nsfw {photo.open_nsfw:.3f}"
            )
    results = {name: summarise(scored, decide) for name, decide in policies(policy, class_index).items()}
    for name, result in results.items():
        blocks, reviews = result["false_blocks"], result["false_reviews"]
        reached = result["swimwear_reaching_review"]
        print(
            f"{name:22s} ordinary {result['ordinary']}: false blocks {len(blocks)}, false reviews "  # type: ignore[arg-type]
            f"{len(reviews)}; swimwear/underwear reaching review {len(reached)}/{result['swimwear']}"  # type: ignore[arg-type]
        )
        for label, names in (("false blocks", blocks), ("false reviews", reviews)):
            if names:
                print(f"{'':22s} {label}: {', '.join(str(n).split('.')[0] for n in names)}")  # type: ignore[attr-defined]
        if result["labelled_confusion"]:
            print(
                f"{'':22s} labelled (expected->given): {result['labelled_confusion']}; block recall "
                f"{result['block_recall']}, block reaching review {result['block_reaching_review']}"
            )
    if not options.labelled:
        print(
            "recall on explicit content is NOT measured here (no explicit photos on this machine): run "
            "`make eval LABELLED=<folder with allow/ review/ block/>` on your own labelled photos"
        )
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"==> {options.json}")


if __name__ == "__main__":
    main()
