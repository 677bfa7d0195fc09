"""Accuracy check: top-1/top-5 over ImageNet-named photos, and the original service's golden pair, through the
served runtime (the converted model, LiteRT), compared photo by photo with the TensorFlow reference.

    python -m bench.evaluate DIR [--classifier NAME] [--weights PATH] [--served-model PATH]

Files must be named `<wnid>_<label>.<ext>` (as in shared/data/imagenet-samples). With untrained weights
the numbers are printed but labelled as NOT accuracy: they only show that the pipeline runs.
"""

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from bench import reports
from infra.build.served_models import EFFICIENTNET_LITE0, RESNET50, local_classifier
from infra.paths import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]

from classify.imaging import ImageRejected, decode_image  # noqa: E402
from classify.labels import ClassIndex, top_k  # noqa: E402
from classify.model import RUNTIME_LITERT, RUNTIME_TENSORFLOW, WEIGHTS_UNTRAINED, load_classifier  # noqa: E402

GOLDEN_PHOTO = REPO_ROOT.parent / "shared" / "data" / "dog.jpeg"
GOLDEN_LABEL, GOLDEN_SCORE = "Eskimo_dog", 0.9346  # ResNet50's, the original service's
# EfficientNet-Lite0 (measured here): Eskimo_dog 0.62, Siberian_husky 0.32; either is right for this photo.
EFFICIENTNET_GOLDEN = ("Eskimo_dog", "Siberian_husky")
NAMED = re.compile(r"^(?P<wnid>n\d{8})_")
BATCH = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--classifier", choices=(RESNET50, EFFICIENTNET_LITE0), help="default: as `make up` picks")
    parser.add_argument(
        "--weights", default=str(REPO_ROOT / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5")
    )
    parser.add_argument("--served-model", help="default: models/<classifier>.tflite")
    parser.add_argument("--resize-method", default="nearest", help="ResNet50's (EfficientNet-Lite0 has its own)")
    options = parser.parse_args()
    name = options.classifier or local_classifier()[0]
    served_model = options.served_model or str(REPO_ROOT / "models" / f"{name}.tflite")

    files = sorted(path for path in options.folder.iterdir() if NAMED.match(path.name))
    if not files:
        raise SystemExit(f"no files named <wnid>_<label>.* in {options.folder}")
    classifier = load_classifier(
        RUNTIME_LITERT, options.weights, True, served_model, classifier=name, resize_method=options.resize_method
    )
    reference = load_classifier(
        RUNTIME_TENSORFLOW, options.weights, True, classifier=name, resize_method=options.resize_method
    )
    untrained = classifier.info.weights == WEIGHTS_UNTRAINED
    class_index = ClassIndex.from_file()

    top1 = top5 = rejected = agree = 0
    worst = 0.0
    records = []  # one per photo, for the report
    for start in range(0, len(files), BATCH):
        batch, truths = [], []
        for path in files[start : start + BATCH]:
            try:
                batch.append(classifier.preprocess(decode_image(path.read_bytes())))
                truths.append(NAMED.match(path.name)["wnid"])  # type: ignore[index]
            except ImageRejected as rejection:
                rejected += 1
                print(f"  rejected {path.name}: {rejection.code}")
        served, expected = classifier.predict(np.stack(batch)), reference.predict(np.stack(batch))
        for truth, probabilities, reference_probabilities in zip(truths, served, expected, strict=True):
            wnids = [label.wnid for label in top_k(probabilities, class_index, 5)]
            top1 += wnids[0] == truth
            top5 += truth in wnids
            agree += wnids == [label.wnid for label in top_k(reference_probabilities, class_index, 5)]
            records.append({"truth": truth, "top5": wnids})
        worst = max(worst, float(np.abs(served - expected).max()))
        print(f"  {min(start + BATCH, len(files))}/{len(files)} photos", flush=True)

    scored = len(files) - rejected
    golden_pixels = classifier.preprocess(decode_image(GOLDEN_PHOTO.read_bytes()))
    golden = top_k(classifier.predict(golden_pixels[None])[0], class_index, 1)[0]
    print()
    print(
        f"model: {classifier.info.name}, weights: {classifier.info.weights}, runtime: {classifier.runtime} "
        f"(reference: {reference.runtime}), resize: {options.resize_method}"
    )
    if untrained:
        print("UNTRAINED WEIGHTS: the figures below are what random weights give, NOT the model's accuracy.")
    print(
        f"top-1: {top1}/{scored} = {top1 / scored:.3f}   top-5: {top5}/{scored} = {top5 / scored:.3f}   "
        f"rejected: {rejected}"
    )
    print(f"served vs TensorFlow: top-5 equal on {agree}/{scored} photos, largest probability difference {worst:.1e}")
    if name == EFFICIENTNET_LITE0:
        matches = golden.label in EFFICIENTNET_GOLDEN
        expected = " or ".join(EFFICIENTNET_GOLDEN)
    else:
        matches = golden.label == GOLDEN_LABEL and round(golden.score, 4) == GOLDEN_SCORE
        expected = f"original service ({GOLDEN_LABEL!r}, {GOLDEN_SCORE})"
    print(
        f"golden pair for dog.jpeg ({classifier.runtime}): got ({golden.label!r}, {golden.score:.4f}), "
        f"{expected} -> {'MATCH' if matches else 'NO MATCH'}"
        + (" (expected with untrained weights)" if untrained else "")
    )
    summary = {
        "model": classifier.info.name,
        "weights": classifier.info.weights,
        "runtime": classifier.runtime,
        "top1": top1 / scored,
        "top5": top5 / scored,
        "photos": scored,
        "top5_equal_to_tensorflow": agree,
        "largest_difference_to_tensorflow": worst,
    }
    print("report: " + ", ".join(str(path) for path in reports.write_eval_report(records, summary)))
    if agree != scored or worst > 1e-4 or (not untrained and not matches):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
