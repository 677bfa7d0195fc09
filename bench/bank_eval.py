"""How well the photo bank's PDQ hashes match copies, on a labelled set generated from the sample photos.

    python -m bench.bank_eval [--photos DIR] [--json reports/bank-eval.json]

Deterministic: every sample photo (at the rendition's size, as the check sees it) and its generated copies:
re-encoded at JPEG quality 60, resized to 50 %, mirrored, rotated 90 degrees, brightened 30 %, with a line of
text overlaid, cropped 5 % on each side, and the "Done when" copy (re-encoded, resized and mirrored at once).
For each kind of copy: how many are matched at the policy's distance (31 of 256 bits, any of the 8 orientations,
as the bank matches), their distances, and how many share one of the 16 chunks of 16 bits exactly with the
original's own hash and are within the distance in their own orientation (what the reuse count counts). For
different photos: every pair's distance, the minimum, and how many pairs would match (false matches). The last
line is
`bank eval: copies matched X/Y, crops Z/N, false matches F/P pairs (min distance D)`.
"""

import argparse
import io
import itertools
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from infra.paths import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]
from classify.photo_bank import chunk_keys, distance, pdq_hashes  # noqa: E402
from classify.policy import PhotoBankRules  # noqa: E402
from classify.rendition import RenditionRules  # noqa: E402

DEFAULT_PHOTOS = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"
THRESHOLD = PhotoBankRules().distance


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _half(image: Image.Image) -> Image.Image:
    return image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.BILINEAR)


def _text(image: Image.Image) -> Image.Image:
    copy = image.copy()
    draw = ImageDraw.Draw(copy)
    size = max(12, image.height // 14)  # a caption across the lower part, as a seller's watermark or promo line
    draw.text(
        (size // 2, image.height - 2 * size),
        "BEST PRICE www.example.shop",
        fill=(255, 255, 255),
        font_size=size,
        stroke_width=max(1, size // 12),
        stroke_fill=(0, 0, 0),
    )
    return copy


def _crop(image: Image.Image) -> Image.Image:
    dx, dy = image.width // 20, image.height // 20
    return image.crop((dx, dy, image.width - dx, image.height - dy))


COPIES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg_q60": lambda image: _jpeg(image, 60),
    "resized_50": _half,
    "mirrored": ImageOps.mirror,
    "rotated_90": lambda image: image.rotate(90, expand=True),
    "brightness_130": lambda image: ImageEnhance.Brightness(image).enhance(1.3),
    "overlaid_text": _text,
    "cropped_5pct": _crop,
    "reencoded_resized_mirrored": lambda image: _jpeg(_half(ImageOps.mirror(image)), 60),
}


def evaluate(photos: Path) -> dict:
    originals, qualities, copies = [], [], {name: [] for name in COPIES}
    for path in sorted(photos.glob("*.JPEG")):
        with Image.open(path) as image:
            shown = image.convert("RGB")
        shown.thumbnail((RenditionRules().long_side, RenditionRules().long_side))
        words, quality = pdq_hashes(shown)
        originals.append(words[0])
        qualities.append(quality)
        keys = set(chunk_keys(words[0]))
        for name, make in COPIES.items():
            variants, _ = pdq_hashes(make(shown))
            nearest = min(distance(words[0], variant) for variant in variants)
            own = distance(words[0], variants[0])  # the reuse index compares the upload's own orientation
            shares = bool(keys & set(chunk_keys(variants[0])))
            copies[name].append({"distance": nearest, "reuse_counted": shares and own <= THRESHOLD})
    pairs = [distance(a, b) for a, b in itertools.combinations(originals, 2)]
    return {
        "photos": len(originals),
        "threshold": THRESHOLD,
        "quality_min": min(qualities),
        "copies": {
            name: {
                "matched": sum(row["distance"] <= THRESHOLD for row in rows),
                "of": len(rows),
                "distance_median": statistics.median(row["distance"] for row in rows),
                "distance_max": max(row["distance"] for row in rows),
                # Found by the reuse index (a chunk in common) and within the distance, in the copy's own
                # orientation only: mirrored and rotated copies are not expected to count.
                "reuse_counted": sum(row["reuse_counted"] for row in rows),
            }
            for name, rows in copies.items()
        },
        "different_photos": {
            "pairs": len(pairs),
            "min_distance": min(pairs),
            "false_matches": sum(value <= THRESHOLD for value in pairs),
            "median_distance": statistics.median(pairs),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report = evaluate(args.photos)
    print(f"PDQ on {report['photos']} sample photos (lowest quality {report['quality_min']}), match at <= {THRESHOLD}:")
    for name, row in report["copies"].items():
        print(
            f"  {name:28} matched {row['matched']:3}/{row['of']}  distance median {row['distance_median']:5.1f}"
            f" max {row['distance_max']:3}  counted as reuse {row['reuse_counted']:3}/{row['of']}"
        )
    different = report["different_photos"]
    print(
        f"  different photos: {different['pairs']} pairs, min distance {different['min_distance']}, median "
        f"{different['median_distance']}, false matches {different['false_matches']}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    kept = {name: row for name, row in report["copies"].items() if name != "cropped_5pct"}
    crops = report["copies"]["cropped_5pct"]
    print(
        f"bank eval: copies matched {sum(r['matched'] for r in kept.values())}/{sum(r['of'] for r in kept.values())}, "
        f"crops {crops['matched']}/{crops['of']}, false matches {different['false_matches']}/{different['pairs']} "
        f"pairs (min distance {different['min_distance']})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
