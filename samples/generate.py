"""Draws the repository's sample photos: product-like pictures made with Pillow, so they carry no one's copyright.

`python -m samples.generate` rewrites samples/photos/ (deterministic: the same bytes on every run with the
same Pillow). The load test, the browser tests and the benchmark read these when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import io
import math
import random
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

PHOTOS = Path(__file__).resolve().parent / "photos"
SIZE = (640, 480)
# Maps a random byte to a noise level of 0-23.
_NOISE_LEVELS = bytes(value % 24 for value in range(256))


def _studio_background(draw: ImageDraw.ImageDraw, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> None:
    width, height = SIZE
    for y in range(height):
        t = y / (height - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (width, y)], fill=colour)
    # A table edge and a soft shadow, as in a product shot.
    draw.rectangle([0, int(height * 0.78), width, height], fill=tuple(max(0, c - 30) for c in bottom))


def _shadow(image: Image.Image, box: tuple[int, int, int, int]) -> None:
    layer = Image.new("L", SIZE, 0)
    ImageDraw.Draw(layer).ellipse(box, fill=110)
    image.paste((40, 40, 40), mask=layer.filter(ImageFilter.GaussianBlur(12)))


def mug(image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
    _studio_background(draw, (236, 240, 245), (205, 212, 222))
    _shadow(image, (190, 350, 450, 400))
    draw.rectangle([220, 160, 400, 370], fill=(200, 40, 50))
    draw.ellipse([220, 140, 400, 180], fill=(230, 70, 80), outline=(150, 20, 30), width=3)
    draw.ellipse([220, 350, 400, 390], fill=(200, 40, 50))
    draw.arc([360, 200, 460, 320], start=-80, end=80, fill=(170, 30, 40), width=18)
    draw.rectangle([240, 170, 256, 360], fill=(235, 110, 115))


def sneaker(image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
    _studio_background(draw, (250, 250, 246), (222, 220, 210))
    _shadow(image, (110, 330, 540, 390))
    draw.polygon(
        [(120, 340), (140, 250), (250, 230), (330, 170), (400, 180), (420, 250), (530, 290), (540, 350)],
        fill=(30, 90, 160),
        outline=(10, 40, 90),
    )
    draw.rectangle([115, 340, 545, 365], fill=(245, 245, 245), outline=(180, 180, 180))
    for x in range(300, 390, 20):
        draw.line([(x, 190), (x + 25, 250)], fill=(240, 240, 240), width=5)
    draw.arc([150, 240, 330, 330], start=200, end=340, fill=(250, 200, 40), width=8)


def tshirt(image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
    _studio_background(draw, (226, 236, 228), (196, 210, 200))
    body = [
        (210, 110),
        (270, 95),
        (320, 125),
        (370, 95),
        (430, 110),
        (500, 180),
        (455, 225),
        (430, 205),
        (430, 400),
        (210, 400),
        (210, 205),
        (185, 225),
        (140, 180),
    ]
    draw.polygon(body, fill=(240, 160, 40), outline=(170, 100, 10))
    draw.arc([285, 90, 355, 150], start=0, end=180, fill=(170, 100, 10), width=4)
    draw.text((280, 240), "PHOTO", fill=(120, 60, 0))


def bottle(image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
    _studio_background(draw, (232, 232, 240), (200, 200, 214))
    _shadow(image, (250, 380, 390, 420))
    draw.rectangle([290, 80, 350, 130], fill=(40, 40, 40))
    draw.polygon([(290, 130), (350, 130), (380, 190), (260, 190)], fill=(60, 130, 90))
    draw.rectangle([260, 190, 380, 400], fill=(60, 130, 90))
    draw.rectangle([270, 240, 370, 330], fill=(245, 240, 225))
    draw.line([(280, 270), (360, 270)], fill=(120, 40, 40), width=4)


def backpack(image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
    _studio_background(draw, (244, 236, 226), (214, 200, 186))
    _shadow(image, (200, 370, 440, 415))
    draw.rounded_rectangle([210, 110, 430, 390], radius=50, fill=(90, 60, 140), outline=(50, 30, 90), width=4)
    draw.rounded_rectangle([245, 250, 395, 370], radius=20, fill=(110, 80, 165), outline=(50, 30, 90), width=3)
    draw.arc([270, 60, 370, 150], start=180, end=360, fill=(50, 30, 90), width=10)
    draw.line([(250, 280), (390, 280)], fill=(230, 200, 60), width=4)


def lamp(image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
    _studio_background(draw, (60, 64, 72), (36, 38, 44))
    glow = Image.new("L", SIZE, 0)
    ImageDraw.Draw(glow).ellipse([200, 160, 440, 360], fill=120)
    image.paste((255, 230, 170), mask=glow.filter(ImageFilter.GaussianBlur(40)))
    draw.polygon([(250, 120), (390, 120), (440, 230), (200, 230)], fill=(245, 225, 180), outline=(180, 160, 120))
    draw.rectangle([312, 230, 328, 380], fill=(170, 170, 175))
    draw.ellipse([250, 370, 390, 410], fill=(120, 120, 128))


def watch(image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
    _studio_background(draw, (238, 238, 238), (210, 210, 210))
    draw.rectangle([290, 40, 350, 440], fill=(110, 70, 40))
    draw.ellipse([230, 150, 410, 330], fill=(200, 200, 205), outline=(120, 120, 125), width=8)
    draw.ellipse([250, 170, 390, 310], fill=(250, 250, 250))
    for hour in range(12):
        angle = math.radians(hour * 30)
        x, y = 320 + 60 * math.sin(angle), 240 - 60 * math.cos(angle)
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(30, 30, 30))
    draw.line([(320, 240), (320, 195)], fill=(30, 30, 30), width=5)
    draw.line([(320, 240), (355, 255)], fill=(30, 30, 30), width=3)


def headphones(image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
    _studio_background(draw, (220, 232, 244), (190, 204, 222))
    _shadow(image, (170, 370, 470, 410))
    draw.arc([190, 90, 450, 350], start=180, end=360, fill=(40, 40, 45), width=22)
    draw.rounded_rectangle([170, 220, 250, 360], radius=30, fill=(40, 40, 45))
    draw.rounded_rectangle([390, 220, 470, 360], radius=30, fill=(40, 40, 45))
    draw.ellipse([190, 250, 230, 330], fill=(200, 60, 60))
    draw.ellipse([410, 250, 450, 330], fill=(200, 60, 60))


SUBJECTS: dict[str, Callable[[Image.Image, ImageDraw.ImageDraw], None]] = {
    "mug": mug,
    "sneaker": sneaker,
    "tshirt": tshirt,
    "bottle": bottle,
    "backpack": backpack,
    "lamp": lamp,
    "watch": watch,
    "headphones": headphones,
}


def photo(subject: str, seed: int) -> Image.Image:
    image = Image.new("RGB", SIZE)
    SUBJECTS[subject](image, ImageDraw.Draw(image))
    # Sensor-like noise, so the JPEG compresses like a photograph rather than a flat drawing.
    rng = random.Random(seed)
    noise = Image.frombytes("L", SIZE, rng.randbytes(SIZE[0] * SIZE[1]).translate(_NOISE_LEVELS))
    return Image.composite(image, Image.new("RGB", SIZE, (128, 128, 128)), Image.eval(noise, lambda v: 255 - v))


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70, optimize=True)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Draw the sample photos.")
    parser.add_argument("--out", type=Path, default=PHOTOS, help="folder to write to (default samples/photos)")
    parser.add_argument(
        "--variants", type=int, default=0, help="write this many distinct photos instead (e.g. for make bench)"
    )
    options = parser.parse_args(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    subjects = list(SUBJECTS)
    if options.variants:
        # Each variant has its own noise and hue, so every file's bytes differ.
        for index in range(options.variants):
            subject = subjects[index % len(subjects)]
            image = photo(subject, seed=1000 + index)
            shift = index // len(subjects) * 23 % 256
            image = Image.merge("RGB", [band.point(lambda v, s=shift: (v + s) % 256) for band in image.split()[::-1]])
            (options.out / f"{subject}-{index:03d}.jpg").write_bytes(encode(image))
        print(f"wrote {options.variants} photos to {options.out}")
        return
    for seed, subject in enumerate(subjects):
        (options.out / f"{subject}.jpg").write_bytes(encode(photo(subject, seed)))
    print(f"wrote {len(subjects)} photos to {options.out}")


if __name__ == "__main__":
    main()
