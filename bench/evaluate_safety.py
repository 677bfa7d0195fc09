"""The safety model on the sample photos: its class distribution, and the verdicts the explicit category changes.

    python -m bench.evaluate_safety DIR [--model models/nsfwjs_mobilenet_v2.keras]

Runs over every image in DIR plus dog.jpeg, each judged as classify judges it: its display rendition
(classify.rendition), reduced by each model's own antialiased preprocessing. The swimwear/underwear samples are
the photos whose true ImageNet class (from the file name) is in the policy's swimwear_and_underwear category. The
last line is the summary: shares of the top class over all photos, and the share the policy blocks as explicit.
"""

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from infra.build.served_models import EFFICIENTNET_LITE0, RESNET50, local_classifier
from infra.paths import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]

from classify.imaging import ImageRejected  # noqa: E402
from classify.labels import ClassIndex  # noqa: E402
from classify.model import RUNTIME_LITERT, WEIGHTS_UNTRAINED, load_classifier  # noqa: E402
from classify.policy import BLOCK, DEFAULT_POLICY_PATH, ModerationPolicy  # noqa: E402
from classify.rendition import make_rendition  # noqa: E402
from classify.safety import SAFETY_CLASSES, SAFETY_MODEL_FILE, load_safety_model  # noqa: E402

GOLDEN_PHOTO = REPO_ROOT.parent / "shared" / "data" / "dog.jpeg"
NAMED = re.compile(r"^(?P<wnid>n\d{8})_")
SWIMWEAR_CATEGORY = "swimwear_and_underwear"
EXPLICIT_CATEGORY = "explicit"
BATCH = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", default=str(REPO_ROOT / "models" / SAFETY_MODEL_FILE))
    parser.add_argument(
        "--weights", default=str(REPO_ROOT / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5")
    )
    parser.add_argument("--classifier", choices=(RESNET50, EFFICIENTNET_LITE0), help="default: as `make up` picks")
    parser.add_argument("--served-model", help="default: models/<classifier>.tflite")
    options = parser.parse_args()
    name = options.classifier or local_classifier()[0]
    served_model = options.served_model or str(REPO_ROOT / "models" / f"{name}.tflite")

    files = sorted(path for path in options.folder.iterdir() if path.is_file() and not path.name.startswith("."))
    files.append(GOLDEN_PHOTO)
    safety_model = load_safety_model(options.model, required=True)
    assert safety_model is not None
    classifier = load_classifier(RUNTIME_LITERT, options.weights, True, served_model, classifier=name)  # as served
    class_index = ClassIndex.from_file()
    policy = ModerationPolicy.from_file(class_index=class_index)
    swimwear = {
        entry["wnid"]
        for entry in json.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))["categories"][SWIMWEAR_CATEGORY][
            "classes"
        ]
    }

    names, safety_rows, resnet_rows = [], [], []
    for start in range(0, len(files), BATCH):
        inputs = []
        for path in files[start : start + BATCH]:
            try:
                rendition = make_rendition(
                    path.read_bytes(), lambda image: (classifier.preprocess(image), safety_model.preprocess(image))
                )
                inputs.append(rendition.judged[0])
                names.append(path.name)
            except ImageRejected as rejection:
                print(f"  rejected {path.name}: {rejection.code}")
        safety_rows.extend(safety_model.predict(np.stack([safety for _, safety in inputs])))
        resnet_rows.extend(classifier.predict(np.stack([resnet for resnet, _ in inputs])))

    top = [SAFETY_CLASSES[int(np.argmax(row))] for row in safety_rows]
    print(f"safety model: {safety_model.info.name} {safety_model.info.version}, policy {policy.version}")
    print(f"top class over {len(names)} photos: " + ", ".join(f"{c} {Counter(top)[c]}" for c in SAFETY_CLASSES))
    print("photos whose top class is not neutral or drawing:")
    for name, row, best in zip(names, safety_rows, top, strict=True):
        if best not in ("neutral", "drawing"):
            print(f"  {name:40s} {best:7s} {row[SAFETY_CLASSES.index(best)]:.2f}")
    for label in ("porn", "hentai", "sexy"):
        column = [row[SAFETY_CLASSES.index(label)] for row in safety_rows]
        highest = int(np.argmax(column))
        print(f"highest {label} score: {column[highest]:.2f} ({names[highest]})")
    print("swimwear/underwear samples:")
    for name, row, best in zip(names, safety_rows, top, strict=True):
        match = NAMED.match(name)
        if match and match["wnid"] in swimwear:
            scores = " ".join(f"{label} {score:.2f}" for label, score in zip(SAFETY_CLASSES, row, strict=True))
            print(f"  {name:40s} {best:7s} {scores}")

    changes: Counter[tuple[str, str]] = Counter()
    explicit_blocked = explicit_review = 0
    for imagenet_row, safety_row in zip(resnet_rows, safety_rows, strict=True):
        before, after = policy.decide(imagenet_row), policy.decide(imagenet_row, safety_row)
        if before.action != after.action:
            changes[(before.action, after.action)] += 1
        explicit = [reason.action for reason in after.reasons if reason.category == EXPLICIT_CATEGORY]
        explicit_blocked += BLOCK in explicit
        explicit_review += bool(explicit) and BLOCK not in explicit
    untrained = ""
    if classifier.info.weights == WEIGHTS_UNTRAINED:
        untrained = f" ({classifier.info.name} UNTRAINED here: its own verdicts are random)"
    print(
        f"explicit category fires on {explicit_blocked} photo(s) as block and {explicit_review} as review; "
        f"verdict changes it causes{untrained}: "
        + (", ".join(f"{a}->{b} {n}" for (a, b), n in sorted(changes.items())) or "none")
    )
    count = len(names)
    share = Counter(top)
    print(
        f"safety: {count} photos, neutral-or-drawing {(share['neutral'] + share['drawing']) / count:.2f}, "
        f"sexy {share['sexy'] / count:.2f}, porn-or-hentai {(share['porn'] + share['hentai']) / count:.2f}, "
        f"explicit-blocked {explicit_blocked / count:.2f}"
    )


if __name__ == "__main__":
    main()
