"""The faces check on the sample photos: how many photos with faces it finds, how many without it flags, and what
blurring does to the face regions.

    python -m bench.evaluate_faces [DIR] [--json PATH]

The labels are below, from looking at each of the 117 sample photos (../shared/data/imagenet-samples): WITH_FACES
lists the photos where a person's face can be recognised (at least eyes or mouth, frontal or profile, any size);
UNCLEAR lists those a person could argue either way (faces under helmets or masks, tiny distant figures, faces on a
screen or drawn); every other photo has no face. A photo counts as found when the check finds at least one face in
it, and as falsely flagged when it finds one in a photo without faces. The pixels are the display rendition's (the
classify path's own decode, at most the rendition's long side), through the served model on LiteRT, at the served
threshold; the rates at other thresholds are printed too, for a shop weighing recall against false flags. For every
photo found, the pixel variance inside each face box, and its fine detail (the variance of its Laplacian), are
compared before and after blurring (the policy's blur), and the detector is run again on the blurred rendition (a
face it still finds is a face still recognisable as one). Each photo with faces is also judged mirrored, at half
size and re-encoded as JPEG at quality 40 (generated here, deterministically).
Deterministic: the same photos and model give the same figures.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

from infra.paths import REPO_ROOT

DEFAULT_DIR = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"
WITH_FACES = (
    "n02667093_abaya.JPEG",
    "n02883205_bow_tie.JPEG",
    "n03041632_cleaver.JPEG",
    "n03124170_cowboy_hat.JPEG",
    "n03404251_fur_coat.JPEG",
    "n03476991_hair_spray.JPEG",
    "n03534580_hoopskirt.JPEG",
    "n03617480_kimono.JPEG",
    "n03630383_lab_coat.JPEG",
    "n03642806_laptop.JPEG",
    "n03710721_maillot.JPEG",
    "n03770439_miniskirt.JPEG",
    "n04370456_sweatshirt.JPEG",
    "n04371430_swimming_trunks.JPEG",
    "n04485082_tripod.JPEG",
)
UNCLEAR = (
    "n03127747_crash_helmet.JPEG",  # a rider's face inside a full-face helmet
    "n03379051_football_helmet.JPEG",  # players' faces behind helmets and grilles, small
    "n04336792_stretcher.JPEG",  # rescuers in helmets and masks
    "n03180011_desktop_computer.JPEG",  # drawn faces on the screen
    "n03793489_mouse.JPEG",  # a face in a photo on the screen
    "n04404412_television.JPEG",  # a person on a small screen
    "n03792782_mountain_bike.JPEG",  # distant figures
    "n04507155_umbrella.JPEG",  # a person hidden behind the umbrella
)
THRESHOLDS = (0.5, 0.6, 0.7, 0.8)
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}


def rates(best: dict[str, float], threshold: float) -> dict[str, Any]:
    """Found / falsely flagged at `threshold`, from each photo's best face confidence (0: none)."""
    with_faces = [name for name in best if name in WITH_FACES]
    without = [name for name in best if name not in WITH_FACES and name not in UNCLEAR]
    found = [name for name in with_faces if best[name] >= threshold]
    flagged = [name for name in without if best[name] >= threshold]
    return {
        "threshold": threshold,
        "with_faces": len(with_faces),
        "found": len(found),
        "missed": sorted(set(with_faces) - set(found)),
        "without_faces": len(without),
        "falsely_flagged": len(flagged),
        "false_flags": sorted(flagged),
    }


def _mirrored(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def _half(image: Image.Image) -> Image.Image:
    return image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.LANCZOS)


def _jpeg_q40(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=40)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


# Variants generated from each photo with faces (deterministic): how the check holds up as shoppers' copies differ.
VARIANTS = {"mirrored": _mirrored, "half size": _half, "JPEG q40": _jpeg_q40}


def overlaps(face: Any, other: Any) -> bool:
    """Whether two boxes share any pixel."""
    return (
        face.x < other.x + other.width
        and other.x < face.x + face.width
        and face.y < other.y + other.height
        and other.y < face.y + face.height
    )


def detail(pixels: Any) -> float:
    """The variance of the grey image's Laplacian: how much fine detail (edges, eyes, mouth) a region holds."""
    grey = pixels.mean(axis=2)
    laplacian = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return float(laplacian.var())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=DEFAULT_DIR)
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "reports" / "eval-faces.json")
    options = parser.parse_args()
    sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]
    import numpy as np

    from classify.faces import MODEL_FILE, blur_faces, load_face_detector
    from classify.rendition import make_rendition

    if not options.folder.is_dir():
        print(f"faces: skipped, no {options.folder} (the labelled sample photos are in ../shared/data)")
        return
    files = sorted(path for path in options.folder.iterdir() if path.suffix.lower() in PHOTO_SUFFIXES)
    missing = sorted(set(WITH_FACES + UNCLEAR) - {path.name for path in files})
    if missing:
        print(f"faces: skipped, {options.folder} is not the labelled sample set (it lacks {missing[:3]}...)")
        return
    detector = load_face_detector(str(REPO_ROOT / "models" / MODEL_FILE), required=True)
    assert detector is not None
    served_threshold = detector.threshold
    detector.threshold = min(THRESHOLDS)  # every face down to the lowest threshold reported; cut per threshold below
    best: dict[str, float] = {}
    spent, variance_kept, detail_kept = [], [], []
    refound = 0  # blurred faces the detector still finds in the blurred rendition
    variants_found: dict[str, int] = {name: 0 for name in VARIANTS}
    for path in files:
        shown: list[Any] = []
        # The classify path's own decode: the rendition's pixels as the checks see them.
        make_rendition(
            path.read_bytes(), lambda image: None, inspect=lambda image, seen=shown: seen.append(image) or image
        )
        started = time.perf_counter()
        faces = detector.detect(shown[0])
        spent.append(time.perf_counter() - started)
        best[path.name] = max((face.confidence for face in faces), default=0.0)
        counted = [face for face in faces if face.confidence >= served_threshold]
        if path.name in WITH_FACES and counted:
            before = np.asarray(shown[0], np.float32)
            after = np.asarray(blur_faces(shown[0], counted), np.float32)
            for face in counted:
                box = (slice(face.y, face.y + face.height), slice(face.x, face.x + face.width))
                variance_kept.append(float(after[box].var() / max(before[box].var(), 1e-6)))
                detail_kept.append(float(detail(after[box]) / max(detail(before[box]), 1e-6)))
            again = [
                face for face in detector.detect(blur_faces(shown[0], counted)) if face.confidence >= served_threshold
            ]
            refound += sum(any(overlaps(face, other) for other in again) for face in counted)
        if path.name in WITH_FACES:
            for name, make in VARIANTS.items():
                found = detector.detect(make(shown[0]))
                variants_found[name] += any(face.confidence >= served_threshold for face in found)
    by_threshold = [rates(best, threshold) for threshold in THRESHOLDS]
    served = next(row for row in by_threshold if row["threshold"] == served_threshold)
    print(
        f"faces: {detector.info.name} ({detector.info.version}) on {len(files)} photos' renditions: "
        f"{len(WITH_FACES)} with faces, {len(UNCLEAR)} unclear (not counted), {served['without_faces']} without"
    )
    for row in by_threshold:
        mark = "  <- served" if row["threshold"] == served_threshold else ""
        print(
            f"  threshold {row['threshold']:.1f}: found {row['found']}/{row['with_faces']}, falsely flagged "
            f"{row['falsely_flagged']}/{row['without_faces']} ({', '.join(row['false_flags']) or 'none'}){mark}"
        )
    print(f"  missed at {served_threshold}: {', '.join(served['missed']) or 'none'}")
    print(
        f"  blurring: the variance inside a found face's box keeps {statistics.median(variance_kept):.1%} of its "
        f"original (median of {len(variance_kept)} faces; worst {max(variance_kept):.1%}); its fine detail (the "
        f"variance of its Laplacian) keeps {statistics.median(detail_kept):.1%} (worst {max(detail_kept):.1%})"
    )
    print(
        f"  after blurring, the detector finds {refound} of the {len(variance_kept)} blurred faces again; variants of "
        "the photos with faces, found: "
        + ", ".join(f"{name} {count}/{len(WITH_FACES)}" for name, count in variants_found.items())
    )
    print(f"  detection: {statistics.median(spent) * 1000:.1f} ms median per rendition (LiteRT, this machine)")
    summary = {
        "model": detector.info.model_dump(),
        "served_threshold": served_threshold,
        "thresholds": by_threshold,
        "unclear": list(UNCLEAR),
        "blur_variance_kept_median": statistics.median(variance_kept),
        "blur_detail_kept_median": statistics.median(detail_kept),
        "blurred_faces_found_again": refound,
        "variants_found": variants_found,
        "detect_ms_median": statistics.median(spent) * 1000,
    }
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(
        f"faces found {served['found']}/{served['with_faces']}, falsely flagged "
        f"{served['falsely_flagged']}/{served['without_faces']} at threshold {served_threshold}; report {options.json}"
    )


if __name__ == "__main__":
    main()
