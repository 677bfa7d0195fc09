"""classify.rendition: what is served is a browser-format still with no metadata, and it is what the models judge."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classify import open_nsfw
from classify.imaging import MODEL_INPUT_SIZE, ImageRejected, preprocess
from classify.open_nsfw import preprocess as open_nsfw_preprocess
from classify.rendition import BACKGROUND, RenditionRules, draft_size, make_rendition
from classify.safety import preprocess_for_safety
from tests.support.images import encoded
from tests.support.scaling_attack import as_png, attack_photos, naive_nearest, planted_share

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
needs_samples = pytest.mark.skipif(not (DATA / "dog.jpeg").is_file(), reason="needs ../shared/data (sample photos)")
GPS_IFD = 0x8825


def served(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pixels_of(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def photo_with_gps(size: tuple[int, int] = (400, 300), orientation: int = 1) -> bytes:
    image = Image.new("RGB", size, (10, 120, 200))
    image.paste((250, 20, 20), (0, 0, size[0] // 4, size[1] // 4))  # a red top-left corner, to see the orientation
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)})
    return encoded(image, "JPEG", quality=95, exif=exif.tobytes(), comment=b"shot at home")


def test_a_served_rendition_has_no_exif_gps_or_comment_and_is_upright() -> None:
    # Given: a phone photo with GPS, a maker and a comment, stored sideways (orientation 6: rotate 90 clockwise)
    rendition = make_rendition(photo_with_gps(orientation=6), lambda image: None)

    image = served(rendition.data)
    assert image.format == "JPEG"
    assert not image.getexif() and GPS_IFD not in image.getexif()
    assert not any(key in image.info for key in ("exif", "xmp", "icc_profile", "comment"))
    assert b"PhoneMaker" not in rendition.data and b"shot at home" not in rendition.data
    # upright: 300x400, the red corner now at the top right
    assert image.size == (300, 400) == rendition.size
    assert tuple(pixels_of(image)[10, 290]) == pytest.approx((250, 20, 20), abs=8)


def test_an_xmp_packet_is_not_served() -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><exif:GPSLatitude>51,30N</exif:GPSLatitude>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    data = encoded(Image.new("RGB", (100, 80), (1, 2, 3)), "JPEG", xmp=xmp)
    assert b"GPSLatitude" in data

    assert b"GPSLatitude" not in make_rendition(data, lambda image: None).data


@pytest.mark.parametrize(
    "name",
    ["heic", "tiff", "png_16_bit_grey", "png_16_bit_rgb", "webp", "bmp"],
)
def test_every_accepted_format_is_served_as_a_jpeg(name: str) -> None:
    pixels = np.linspace(0, 65535, 120 * 90, dtype=np.uint16).reshape(90, 120)
    uploads = {
        "tiff": lambda: encoded(Image.new("RGB", (120, 90), (200, 100, 50)), "TIFF"),
        "png_16_bit_grey": lambda: encoded(Image.fromarray(pixels), "PNG"),
        "png_16_bit_rgb": lambda: sixteen_bit_rgb_png(),
        "webp": lambda: encoded(Image.new("RGB", (120, 90), (200, 100, 50)), "WEBP"),
        "bmp": lambda: encoded(Image.new("RGB", (120, 90), (200, 100, 50)), "BMP"),
        "heic": lambda: heic(),
    }

    image = served(make_rendition(uploads[name](), lambda image: None).data)

    assert image.format == "JPEG" and image.mode == "RGB" and image.size == (120, 90)


def heic() -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif", reason="HEIC needs pillow-heif")
    pillow_heif.register_heif_opener()
    return encoded(Image.new("RGB", (120, 90), (200, 100, 50)), "HEIF")


def sixteen_bit_rgb_png() -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one), made with zlib by hand."""
    import struct
    import zlib

    width, height = 120, 90
    row = b"".join(struct.pack(">HHH", 50000, 20000, 1000) for _ in range(width))
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_a_transparent_png_is_judged_as_it_is_shown() -> None:
    # Given: a PNG that is white where opaque and whose colour channels hide a red square under alpha 0; a
    # browser would composite the transparent parts onto whatever the page is (dark pages show it differently)
    rgba = np.zeros((200, 200, 4), dtype=np.uint8)
    rgba[..., :3] = (255, 0, 0)  # hidden colour, fully transparent
    rgba[50:150, 50:150] = (0, 0, 0, 255)  # an opaque black square
    seen: list[np.ndarray] = []

    rendition = make_rendition(
        encoded(Image.fromarray(rgba, "RGBA"), "PNG"), lambda image: seen.append(pixels_of(image))
    )

    # Then: the served rendition is opaque, the transparency flattened onto the documented background ...
    image = served(rendition.data)
    assert image.mode == "RGB" and "transparency" not in image.info
    shown = pixels_of(image)
    assert tuple(shown[10, 10]) == pytest.approx(BACKGROUND, abs=3)
    assert tuple(shown[100, 100]) == pytest.approx((0, 0, 0), abs=3)
    # ... and what was judged is exactly those served pixels
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], shown)


def test_the_long_side_is_capped_with_the_aspect_ratio_kept() -> None:
    data = encoded(Image.new("RGB", (3000, 1000), (90, 90, 90)), "PNG")

    rendition = make_rendition(data, lambda image: image.size, rules=RenditionRules(long_side=1200))

    assert rendition.size == (1200, 400) and rendition.judged == [(1200, 400)]
    assert served(rendition.data).size == (1200, 400)


def test_a_small_photo_is_never_enlarged() -> None:
    rendition = make_rendition(encoded(Image.new("RGB", (200, 100), (9, 9, 9)), "PNG"), lambda image: None)

    assert rendition.size == (200, 100)


@pytest.mark.parametrize(("long_side", "rendition_size"), [(None, (1000, 750)), (1600, (1600, 1200))])
def test_a_large_jpeg_drafted_gives_the_rendition_a_full_decode_would(
    long_side: int | None, rendition_size: tuple[int, int]
) -> None:
    # Given: a 12-MP phone photo (4000x3000); the draft decodes it at 1/4 scale for the default 1000 px rendition
    # (1000x750: the decode is the rendition), at 1/2 for 1600 px (2000x1500, then reduced)
    rng = np.random.default_rng(3)
    smooth = Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).resize((4000, 3000), Image.BICUBIC)
    data = encoded(smooth, "JPEG", quality=90)
    full = pixels_of(
        served(encoded(smooth.resize(rendition_size, Image.Resampling.LANCZOS), "JPEG", quality=92, subsampling=0))
    )
    rules = RenditionRules() if long_side is None else RenditionRules(long_side=long_side)

    rendition = make_rendition(data, lambda image: None, rules=rules)

    # Then: exactly the same size and framing, and the pixels within JPEG's own noise of a full decode's
    assert rendition.size == rendition_size
    difference = np.abs(pixels_of(served(rendition.data)) - full)
    assert difference.mean() < 1.0 and np.percentile(difference, 99.9) <= 8


def drafted_size(data: bytes, long_side: int) -> tuple[int, int]:
    """The size libjpeg decodes these JPEG bytes to for a rendition of `long_side` (classify.rendition's draft)."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", draft_size(image.size, long_side))
        return image.size


@pytest.mark.parametrize("phone", [(4000, 3000), (4032, 3024)])
def test_the_default_rendition_decodes_a_12mp_phone_photo_at_a_quarter_scale(phone: tuple[int, int]) -> None:
    # Given: a 12-MP phone photo of either common size
    data = encoded(Image.new("RGB", phone, (90, 140, 60)), "JPEG", quality=90)

    # Then: libjpeg decodes it at 1/4 scale for the default rendition (a quarter of the pixels of 1/2), and the
    # rendition is 1000x750 either way
    assert drafted_size(data, RenditionRules().long_side) == (math.ceil(phone[0] / 4), math.ceil(phone[1] / 4))
    assert make_rendition(data, lambda image: None).size == (1000, 750)


def test_the_default_long_side_is_the_largest_that_keeps_a_4000x3000_photo_at_a_quarter_scale() -> None:
    # Given: the smaller of the two phone sizes, the one that bounds the long side
    data = encoded(Image.new("RGB", (4000, 3000), (90, 140, 60)), "JPEG", quality=90)

    # Then: one pixel more of long side and it is decoded at 1/2 (four times the pixels, then reduced)
    assert drafted_size(data, RenditionRules().long_side) == (1000, 750)
    assert drafted_size(data, RenditionRules().long_side + 1) == (2000, 1500)


def test_every_pixel_of_a_quarter_scale_decode_counts_in_the_rendition() -> None:
    # Given: a 12-MP grey photo with a white pixel planted at one corner of every 4x4 block (1/16 of the pixels:
    # a nearest resize to 1/4 reads all of them or none)
    pixels = np.full((3000, 4000, 3), 100, dtype=np.uint8)
    pixels[::4, ::4] = 255
    data = encoded(Image.fromarray(pixels), "JPEG", quality=95)

    rendition = make_rendition(data, lambda image: None)

    # Then: the 1000x750 rendition, made from libjpeg's 1/4 scale decode, shows them as their share of the area,
    # as a box average of the full decode does (100 + 155 / 16 = 109.7)
    assert rendition.size == (1000, 750)
    box = pixels_of(served(data).reduce(4)).mean()
    assert abs(pixels_of(served(rendition.data)).mean() - box) < 1.0 and abs(box - 109.7) < 1.5


@needs_samples
def test_a_large_rendition_is_judged_from_its_served_bytes_at_a_dct_scale_that_keeps_every_input_close() -> None:
    # Given: a 12-MP phone photo (the dog, upscaled to 4000x3000 as make bench's phone photos), a 1600x1200
    # rendition (a shop's larger long side: the default 1000x750 is judged in full)
    with Image.open(DATA / "dog.jpeg") as dog:
        phone = dog.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    seen: list[Image.Image] = []

    larger = RenditionRules(long_side=1600)

    rendition = make_rendition(
        encoded(phone, "JPEG", quality=90), lambda image: seen.append(image.copy()), rules=larger
    )

    # Then: the models get the served bytes decoded at libjpeg's 1/2 scale (800x600, both sides >= judged_min_side),
    # pixel for pixel what a draft decode of the served JPEG gives ...
    assert rendition.size == (1600, 1200)
    [judged] = seen
    assert judged.size == (800, 600) and min(judged.size) >= RenditionRules().judged_min_side
    drafted = Image.open(io.BytesIO(rendition.data))
    drafted.draft("RGB", (RenditionRules().judged_min_side,) * 2)
    np.testing.assert_array_equal(pixels_of(judged), pixels_of(drafted))
    # ... within a fraction of a level of an exact 2x2 average of the full decode (every served pixel counts) ...
    full = served(rendition.data)
    assert np.abs(pixels_of(judged) - pixels_of(full.reduce(2))).mean() < 0.5
    # ... and each model's input within a level of the one the full decode would give it
    for prepare, level in [(preprocess, 1.0), (preprocess_for_safety, 1 / 255), (open_nsfw_preprocess, 1.0)]:
        difference = np.abs(prepare(judged) - prepare(full))
        assert difference.mean() < level, (prepare.__name__, difference.mean() / level)


def test_the_judged_decode_keeps_twice_every_models_input_side() -> None:
    # The classifier and nsfwjs take 224 px, Open-NSFW resizes to 256 px before its crop.
    largest_input = max(MODEL_INPUT_SIZE + (224, open_nsfw.RESIZE_SIZE))
    assert RenditionRules().judged_min_side >= 2 * largest_input


def animation(colours: list[tuple[int, int, int]], image_format: str, size: tuple[int, int] = (64, 64)) -> bytes:
    frames = [Image.new("RGB", size, colour) for colour in colours]
    return encoded(frames[0], image_format, save_all=True, append_images=frames[1:], duration=100, loop=0)


@pytest.mark.parametrize("image_format", ["GIF", "PNG", "WEBP"])
def test_every_distinct_frame_of_an_animation_is_judged_and_the_first_is_served(image_format: str) -> None:
    # Given: four frames, two of them alike, the third one different (a later frame a viewer would see)
    data = animation([(0, 0, 200), (0, 0, 200), (200, 0, 0), (0, 200, 0)], image_format)

    rendition = make_rendition(data, lambda image: tuple(int(v) for v in pixels_of(image)[32, 32]))

    # Then: the three distinct frames are judged, the rendition first; what is served is a still of the first
    assert len(rendition.judged) == 3
    first, later = rendition.judged[0], rendition.judged[1:]
    assert first == pytest.approx((0, 0, 200), abs=12)
    assert later == [pytest.approx((200, 0, 0), abs=12), pytest.approx((0, 200, 0), abs=12)]
    image = served(rendition.data)
    assert image.format == "JPEG" and getattr(image, "n_frames", 1) == 1


def test_an_animation_beyond_the_frame_cap_fails_with_its_own_reason() -> None:
    data = animation([(n * 40, 0, 0) for n in range(6)], "GIF")

    with pytest.raises(ImageRejected) as refused:
        make_rendition(data, lambda image: None, rules=RenditionRules(max_frames=5))

    assert refused.value.code == "too_many_frames" and "5 distinct frames" in refused.value.message


def test_an_animation_beyond_the_frame_pixel_cap_fails_with_its_own_reason() -> None:
    data = animation([(n * 40, 0, 0) for n in range(3)], "GIF", size=(100, 100))

    with pytest.raises(ImageRejected) as refused:
        make_rendition(data, lambda image: None, rules=RenditionRules(max_frame_pixels=25_000))

    assert refused.value.code == "too_many_frames"


@needs_samples
def test_an_image_scaling_attack_built_from_the_samples_is_judged_as_people_see_it() -> None:
    # Given: a swimwear photo at 2240x2240 whose pixels that the naive resizes read (Keras' nearest, nsfwjs'
    # align-corners bilinear: about 8 % of them) are replaced by a dog photo's; a person still sees the swimwear
    cover, planted, dog = attack_photos(
        str(DATA / "imagenet-samples" / "n02837789_bikini.JPEG"), str(DATA / "dog.jpeg")
    )
    assert 0.05 < planted_share(cover, planted) < 0.1
    # (the attack works on a naive resize: it sees the dog, pixel for pixel)
    np.testing.assert_array_equal(naive_nearest(planted), dog)

    def inputs(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return make_rendition(as_png(pixels), lambda image: (preprocess(image), preprocess_for_safety(image))).judged[0]

    (resnet_untouched, safety_untouched), (resnet_planted, safety_planted) = inputs(cover), inputs(planted)
    resnet_dog, safety_dog = preprocess(Image.fromarray(dog)), preprocess_for_safety(Image.fromarray(dog))

    # Then: both models' inputs stay near the photo people see and far from the dog
    for untouched, attacked_input, hidden in [
        (resnet_untouched, resnet_planted, resnet_dog),
        (safety_untouched, safety_planted, safety_dog),
    ]:
        towards_attack = np.abs(attacked_input - untouched).mean()
        dog_distance = np.abs(hidden - untouched).mean()
        assert towards_attack < 0.12 * dog_distance, (towards_attack, dog_distance)
