"""What the rendition's long side changes in the judgement: every model on renditions of two sizes, side by side.

    python -m bench.rendition_size [--photos DIR] [--phones 6] [--before 1600] [--after N]

For the photos whose rendition the long side changes (the sample photos larger than --after, and generated 12-MP
phone photos of both common sizes, 4000x3000 and 4032x3024, made from every swimwear/underwear sample and
--phones others), each is judged as classify judges it (its display
rendition, each model's input made from its served bytes) at --before and at --after (default: RenditionRules'
default), and this prints, per photo and in all: nsfwjs' porn, hentai and sexy scores and top class, Open-NSFW's
P(NSFW), the classifier's top-1 (EfficientNet-Lite0, trained, unless `make weights` fetched ResNet50's) and the
policy's verdict, at both sizes; then the largest score differences, the agreements, and the CPU time of making
the renditions and models' inputs. Deterministic (same photos, same models); a short run (about a minute).
The phone photos are upscaled sample photos: smoother than a real 12-MP photo, so they show less of what a
smaller rendition loses in fine detail than real phone photos would.
"""

import argparse
import json
import sys
import time
from pathlib import Path

from bench.judgement import load_judges
from infra.paths import REPO_ROOT

DEFAULT_PHOTOS = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"
PHONE_SIZES = ((4000, 3000), (4032, 3024))
SWIMWEAR_CATEGORY = "swimwear_and_underwear"


def main() -> None:
    sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]
    import numpy as np
    from PIL import Image

    from bench.draft_rule import PHONE_FOLDER
    from bench.phone_photos import phone_photos
    from classify.labels import top_k
    from classify.policy import DEFAULT_POLICY_PATH
    from classify.rendition import RenditionRules, make_rendition
    from classify.safety import SAFETY_CLASSES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="folder of real photos")
    parser.add_argument("--phones", type=int, default=4, help="phone photos of each size besides swimwear's")
    parser.add_argument("--before", type=int, default=1600, help="the long side compared against")
    parser.add_argument("--after", type=int, default=RenditionRules().long_side, help="the long side measured")
    options = parser.parse_args()
    sources = sorted(path for path in options.photos.iterdir() if path.is_file())
    large = [path for path in sources if max(Image.open(path).size) > options.after]
    # Phone photos of every swimwear/underwear sample (the photos nearest the safety thresholds), then of others.
    revealing_classes = {
        entry["wnid"]
        for entry in json.loads(DEFAULT_POLICY_PATH.read_text())["categories"][SWIMWEAR_CATEGORY]["classes"]
    }
    revealing = [path for path in sources if path.name.split("_", 1)[0] in revealing_classes]
    bases = revealing + [path for path in sources if path not in revealing][: options.phones]
    photos = large + [photo for size in PHONE_SIZES for photo in phone_photos(bases, PHONE_FOLDER, len(bases), size)]
    classifier, safety, second, class_index, policy = load_judges()
    watched = [SAFETY_CLASSES.index(name) for name in ("porn", "hentai", "sexy")]

    def judged(long_side: int) -> tuple[list[dict], float]:
        inputs, cpu = [], 0.0
        for path in photos:
            started = time.process_time()
            rendition = make_rendition(
                path.read_bytes(),
                lambda image: (classifier.preprocess(image), safety.preprocess(image), second.preprocess(image)),
                rules=RenditionRules(long_side=long_side),
            )
            cpu += time.process_time() - started
            inputs.append(rendition.judged[0])
        rows = classifier.predict(np.stack([model for model, _, _ in inputs]))
        safety_rows = safety.predict(np.stack([nsfwjs for _, nsfwjs, _ in inputs]))
        second_rows = second.predict(np.stack([open_nsfw for _, _, open_nsfw in inputs]))
        results = []
        for row, safety_row, second_row in zip(rows, safety_rows, second_rows, strict=True):
            verdict = policy.decide(row, safety_row, float(second_row))
            results.append(
                {
                    "scores": safety_row[watched],
                    "top": SAFETY_CLASSES[int(np.argmax(safety_row))],
                    "open_nsfw": float(second_row),
                    "top1": top_k(row, class_index, 1)[0].label,
                    "verdict": verdict.action,
                    "why": ", ".join(sorted({reason.category for reason in verdict.reasons})) or "-",
                }
            )
        return results, cpu

    before, before_cpu = judged(options.before)
    after, after_cpu = judged(options.after)
    print(
        f"{len(photos)} photos ({len(large)} sample photos over {options.after} px; {len(bases)} phone photos of "
        f"each of {', '.join(f'{w}x{h}' for w, h in PHONE_SIZES)}, {len(revealing)} of them swimwear/underwear); "
        f"rendition long side {options.before} -> "
        f"{options.after} px; classifier {classifier.info.name} ({classifier.info.weights}), policy {policy.version}"
    )
    print(f"{'photo':<44} {'porn/hentai/sexy':>17} -> {'':<17} {'Open-NSFW':>9} -> {'':<5} verdict")
    changed = []
    for path, old, new in zip(photos, before, after, strict=True):
        if (old["verdict"], old["top1"]) != (new["verdict"], new["top1"]):
            changed.append(
                f"  {path.name}: {old['verdict']} ({old['why']}; top-1 {old['top1']}) -> "
                f"{new['verdict']} ({new['why']}; top-1 {new['top1']})"
            )
        print(
            f"{path.name[:44]:<44} {'/'.join(f'{s:.2f}' for s in old['scores']):>17} -> "
            f"{'/'.join(f'{s:.2f}' for s in new['scores']):<17} {old['open_nsfw']:>9.2f} -> {new['open_nsfw']:<5.2f} "
            f"{old['verdict']} -> {new['verdict']}"
        )
    print("verdict or top-1 changed:" if changed else "no verdict or top-1 changed", *changed, sep="\n")
    score_diff = max(float(np.abs(old["scores"] - new["scores"]).max()) for old, new in zip(before, after, strict=True))
    second_diff = max(abs(old["open_nsfw"] - new["open_nsfw"]) for old, new in zip(before, after, strict=True))

    def agreeing(key: str) -> int:
        return sum(old[key] == new[key] for old, new in zip(before, after, strict=True))

    count = len(photos)
    print(
        f"nsfwjs: largest porn/hentai/sexy difference {score_diff:.3f}, top class agreement {agreeing('top')}/{count}; "
        f"Open-NSFW: largest difference {second_diff:.3f}; {classifier.info.name} top-1 agreement "
        f"{agreeing('top1')}/{count}; verdict agreement {agreeing('verdict')}/{count}"
    )
    print(
        f"rendition + every model's input, CPU per photo: {1000 * before_cpu / count:.1f} ms at {options.before} px, "
        f"{1000 * after_cpu / count:.1f} ms at {options.after} px"
    )


if __name__ == "__main__":
    main()
