"""The text check measured on a labelled set made here: per-rule recall and false positives (`make eval`).

    python -m bench.text_eval [DIR] [--overlaid 24] [--detection-side 736] [--long-side N] [--json PATH]

DIR: ordinary photos (default ../shared/data/imagenet-samples). The labelled set is made from them, the same every
run: each of the first --overlaid photos at least 300 px wide gets, once per rule, one line of that rule's text
(an URL, an e-mail address, a phone number, a promo code or price, taken in turn from STRINGS) drawn at a seeded
place, size and colour the way shoppers and spammers overlay it, saved as a JPEG (quality 85) as a phone app
would; every photo of DIR also goes in untouched. Each photo is decoded into its rendition by classify.rendition
(what the check sees) and judged by the check as it ships: rapidocr (classify.ocr) and the built-in policy's
text rules (classify.text_check). A rule's recall: overlaid photos of that rule matched by it. A false positive:
an untouched photo matched by any rule, or an overlaid photo matched by another rule than its own (listed, with
what matched: on the sample photos these are photographers' URL watermarks, which a shop allow-lists).
--long-side N enlarges every rendition to N px on its long side first (1600: what a 12-MP phone photo's rendition
is), and --detection-side runs detection at another size than the shipped one: together they measure which
detection size still reads overlaid text (docs/benchmark.md#text-check).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from infra.paths import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]

from classify.checks import Subject  # noqa: E402
from classify.ocr import DETECTION_SIDE, load_reader  # noqa: E402
from classify.policy import ModerationPolicy  # noqa: E402
from classify.rendition import make_rendition  # noqa: E402
from classify.text_check import EMAIL, PHONE, PROMO, RULES, URL, TextCheck  # noqa: E402

DEFAULT_PHOTOS = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"
# What each rule is tested with: the forms spam and private details take in review photos.
STRINGS: dict[str, tuple[str, ...]] = {
    URL: (
        "www.bestdeals-shop.com",
        "visit cheapkicks.net/sale",
        "https://bit.ly/3xY9kQ",
        "shop-outlet.store",
        "WWW.MEGASTORE.CO.UK",
        "order at fastshoes.shop",
    ),
    EMAIL: (
        "jane.doe77@gmail.com",
        "contact: sales@outlet-direct.com",
        "mike_r@yahoo.co.uk",
        "write to deals4u@hotmail.com",
    ),
    PHONE: (
        "call +1 415 555 0199",
        "(212) 555-0147",
        "+44 20 7946 0958",
        "WhatsApp +49 151 23456789",
        "tel 0800 123 4567",
        "555-867-5309",
    ),
    PROMO: (
        "USE CODE SAVE20",
        "only $19.99",
        "20% OFF today",
        "promo code SPRING25",
        "49,90 €",
        "£15 off with code FREESHIP",
    ),
}
MIN_OVERLAY_WIDTH = 300  # narrower photos stay in the untouched set only: no overlay line fits them readably
STYLES = (  # fill, stroke, background box
    ((255, 255, 255), (0, 0, 0), None),
    ((0, 0, 0), None, (255, 255, 255)),
    ((255, 230, 0), (40, 40, 40), None),
    ((255, 255, 255), None, (200, 30, 30)),
)


def overlay(image: Image.Image, text: str, seed: int, lines_per_height: int = 14) -> Image.Image:
    """`image` with one line of `text` drawn on it: its font 1/`lines_per_height` of the image's height (smaller if
    it would not fit; at least 12 px), place and style drawn from `seed`."""
    rng = random.Random(seed)
    image = image.convert("RGB").copy()
    draw = ImageDraw.Draw(image)
    size = max(12, image.height // lines_per_height)
    while True:
        font = ImageFont.load_default(size=size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if right - left <= image.width * 0.9 or size <= 12:
            break
        size -= 2
    width, height = right - left, bottom - top
    x = rng.randint(
        int(image.width * 0.03), max(int(image.width * 0.03), image.width - width - int(image.width * 0.03))
    )
    y = rng.randint(int(image.height * 0.05), max(int(image.height * 0.05), image.height - height * 2))
    fill, stroke, box = rng.choice(STYLES)
    if box is not None:
        pad = max(3, size // 5)
        draw.rectangle((x - pad, y - pad + top, x + width + pad, y + bottom + pad), fill=box)
    draw.text((x, y), text, font=font, fill=fill, stroke_width=2 if stroke else 0, stroke_fill=stroke)
    return image


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@dataclass(frozen=True)
class Labelled:
    name: str
    rule: str | None  # the rule its overlay is for; None: the untouched photo
    text: str | None  # the overlaid line
    data: bytes


def labelled_set(photos: Path, overlaid: int, lines_per_height: int = 14) -> Iterator[Labelled]:
    paths = sorted(path for path in photos.iterdir() if path.suffix.lower() in (".jpeg", ".jpg", ".png"))
    wide = [path for path in paths if Image.open(path).width >= MIN_OVERLAY_WIDTH][:overlaid]
    for number, path in enumerate(wide):
        with Image.open(path) as photo:
            for position, rule in enumerate(RULES):
                text = STRINGS[rule][(number + position) % len(STRINGS[rule])]
                seed = number * len(RULES) + position
                image = overlay(photo, text, seed, lines_per_height)
                yield Labelled(f"{path.stem}+{rule}", rule, text, jpeg(image))
    for path in paths:
        yield Labelled(path.stem, None, None, path.read_bytes())


def rendition_pixels(data: bytes) -> Image.Image:
    """What the check sees: the rendition's pixels before they are encoded (classify.rendition)."""
    seen: list[Image.Image] = []

    def capture(shown: Image.Image) -> Image.Image:
        seen.append(shown)
        return shown

    make_rendition(data, lambda image: None, inspect=capture)
    return seen[0]


def enlarged(image: Image.Image, long_side: int | None) -> Image.Image:
    if not long_side:
        return image
    scale = long_side / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)


def evaluate(
    photos: Path,
    overlaid: int,
    detection_side: int = DETECTION_SIDE,
    long_side: int | None = None,
    lines_per_height: int = 14,
) -> dict:
    policy = ModerationPolicy.from_file()
    check = TextCheck(load_reader(detection_side))
    recall = {rule: {"photos": 0, "matched": 0, "read_exactly": 0} for rule in RULES}
    untouched = {"photos": 0, "flagged": 0, "by_rule": dict.fromkeys(RULES, 0)}
    false_positives: list[dict] = []
    missed: list[dict] = []
    timings: list[float] = []
    cpu: list[float] = []
    for photo in labelled_set(photos, overlaid, lines_per_height):
        image = enlarged(rendition_pixels(photo.data), long_side)
        started, started_cpu = time.perf_counter(), time.process_time()
        result = check.inspect(Subject(photo.name, photo.name, image), policy)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert result.record is not None
        matches = result.record.matches  # type: ignore[attr-defined]
        rules = {match.rule for match in matches}
        if photo.rule is None:
            untouched["photos"] += 1
            untouched["flagged"] += bool(rules)
            for rule in rules:
                untouched["by_rule"][rule] += 1
        else:
            tally = recall[photo.rule]
            tally["photos"] += 1
            if photo.rule in rules:
                tally["matched"] += 1
                read = " ".join(line.text for line in result.record.lines)  # type: ignore[attr-defined]
                tally["read_exactly"] += photo.text is not None and photo.text.replace(" ", "") in read.replace(" ", "")
            else:
                lines = [line.text for line in result.record.lines]  # type: ignore[attr-defined]
                missed.append({"photo": photo.name, "overlaid": photo.text, "read": lines})
        for match in matches:
            if match.rule != photo.rule:
                false_positives.append(
                    {"photo": photo.name, "overlaid": photo.text, "rule": match.rule, "matched": match.text}
                )
    return {
        "engine": check.reader.info.model_dump(),
        "policy_version": policy.version,
        "recall": recall,
        "untouched": untouched,
        "false_positives": false_positives,
        "missed": missed,
        "long_side": long_side,
        "lines_per_height": lines_per_height,
        "check_ms_median": sorted(timings)[len(timings) // 2],
        "check_cpu_ms_median": sorted(cpu)[len(cpu) // 2],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.text_eval", description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="?", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--overlaid", type=int, default=24, help="photos that get one overlay per rule")
    parser.add_argument("--detection-side", type=int, default=DETECTION_SIDE, help="long side text detection runs at")
    parser.add_argument("--long-side", type=int, default=None, help="enlarge each rendition to this long side first")
    parser.add_argument(
        "--lines-per-height", type=int, default=14, help="overlay font size: the photo's height over this (14)"
    )
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "reports" / "text-eval.json")
    options = parser.parse_args(argv)
    report = evaluate(
        options.photos, options.overlaid, options.detection_side, options.long_side, options.lines_per_height
    )
    size = f"renditions enlarged to {options.long_side} px" if options.long_side else "renditions at their own size"
    size += f", overlay font 1/{options.lines_per_height} of the height"
    print(
        f"== text check on {options.photos} ({size}; rapidocr {report['engine']['version']}, detection at "
        f"{report['engine']['detection_side']} px; policy {report['policy_version']})"
    )
    for rule, tally in report["recall"].items():
        print(
            f"  {rule:6} recall {tally['matched']}/{tally['photos']}"
            f" ({tally['read_exactly']} read character for character)"
        )
    untouched = report["untouched"]
    by_rule = ", ".join(f"{rule} {count}" for rule, count in untouched["by_rule"].items())
    print(f"  untouched photos flagged: {untouched['flagged']}/{untouched['photos']} ({by_rule})")
    for entry in report["false_positives"]:
        where = "untouched" if entry["overlaid"] is None else f"overlaid {entry['overlaid']!r}, another rule"
        print(f"    false positive ({where}): {entry['photo']}: {entry['rule']} {entry['matched']!r}")
    for entry in report["missed"]:
        print(f"    missed: {entry['photo']}: overlaid {entry['overlaid']!r}, read {entry['read']}")
    print(
        f"  the check's median time per photo: {report['check_ms_median']:.0f} ms"
        f" ({report['check_cpu_ms_median']:.0f} ms of CPU, all threads)"
    )
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"  report: {options.json}")


if __name__ == "__main__":
    main()
