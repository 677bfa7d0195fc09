"""Only renditions are served, over real HTTP: a browser format with no metadata, of exactly what was judged.

An upload is never served itself: the display gate redirects to the rendition classify made of the judged
version (classify.rendition), whatever the upload's format, and an animation is judged frame by frame.
"""

import io

import numpy as np
import pytest
import requests
from PIL import Image

from tests.integration.helpers import (
    DOG_PHOTO,
    HTTP_TIMEOUT_S,
    SAMPLES_DIR,
    assert_error,
    rendition_long_side,
    shows_photo,
    upload_photo,
    wait_for_final,
)
from tests.integration.test_reviews_and_display import force_verdict, show
from tests.support.images import encoded

pytestmark = pytest.mark.integration

SWIMWEAR = SAMPLES_DIR / "n02837789_bikini.JPEG"
GPS_IFD = 0x8825


def phone_photo_with_gps() -> bytes:
    with Image.open(DOG_PHOTO) as dog:
        image = dog.convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)})
    return encoded(image, "JPEG", quality=92, exif=exif.tobytes())


def heic_photo() -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif", reason="writing the HEIC upload needs pillow-heif")
    pillow_heif.register_heif_opener()
    with Image.open(DOG_PHOTO) as dog:
        return encoded(dog.convert("RGB"), "HEIF", quality=90)


def sixteen_bit_png() -> bytes:
    ramp = np.linspace(0, 65535, 320 * 240, dtype=np.uint16).reshape(240, 320)
    return encoded(Image.fromarray(ramp), "PNG")


def tiff_photo() -> bytes:
    with Image.open(DOG_PHOTO) as dog:
        return encoded(dog.convert("RGB"), "TIFF")


UPLOADS = {
    "jpeg_with_gps": (phone_photo_with_gps, "image/jpeg", "jpg"),
    "heic": (heic_photo, "image/heic", "heic"),
    "tiff": (tiff_photo, "image/tiff", "tiff"),
    "png_16_bit": (sixteen_bit_png, "image/png", "png"),
}


def test_a_12mp_phone_photo_is_served_at_the_templates_long_side(local_stack):
    # Given: a 12-MP phone photo (the dog upscaled to 4032x3024, JPEG q90, as a phone stores it), allowed
    with Image.open(DOG_PHOTO) as dog:
        data = encoded(dog.convert("RGB").resize((4032, 3024), Image.Resampling.BICUBIC), "JPEG", quality=90)
    image_id = upload_photo(local_stack, data, "phone.jpg", "image/jpeg")["image_id"]
    assert wait_for_final(local_stack, image_id)["status"] == "done"
    force_verdict(local_stack, image_id, "allow")

    # When: a shopper's browser follows the display gate
    reply = show(local_stack, image_id)
    assert reply.status_code == 302, reply.text
    served = requests.get(reply.headers["Location"], timeout=HTTP_TIMEOUT_S)

    # Then: the rendition is at most the template's long side (1000 px: 1000x750), and shows the photo
    assert rendition_long_side() == 1000
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.format == "JPEG" and image.size == (1000, 750)
    assert shows_photo(served.content, data)


@pytest.mark.parametrize("name", list(UPLOADS))
def test_a_served_rendition_is_a_jpeg_with_no_exif_or_gps(local_stack, name):
    # Given: an upload in a format browsers may not show, or one carrying a GPS position, allowed
    make, content_type, extension = UPLOADS[name]
    data = make()
    image_id = upload_photo(local_stack, data, f"{name}.{extension}", content_type)["image_id"]
    assert wait_for_final(local_stack, image_id)["status"] == "done"
    force_verdict(local_stack, image_id, "allow")

    # When: a shopper's browser follows the display gate
    reply = show(local_stack, image_id)
    assert reply.status_code == 302, reply.text
    served = requests.get(reply.headers["Location"], timeout=HTTP_TIMEOUT_S)

    # Then: a JPEG (every browser shows it), with no EXIF, GPS or maker, never the uploaded bytes
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert served.content != data
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    assert b"PhoneMaker" not in served.content


def test_an_animation_with_a_later_explicit_frame_is_never_allowed_or_served(local_stack):
    # Given: a GIF whose first frame is an ordinary photo (the dog) and whose second is a swimwear photo; as a
    # still, the first frame is allowed and the swimwear photo goes to review
    with Image.open(DOG_PHOTO) as dog, Image.open(SWIMWEAR) as swimwear:
        frames = [dog.convert("RGB").resize((320, 240)), swimwear.convert("RGB").resize((320, 240))]
    animation = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=500, loop=0)
    still = encoded(frames[0], "GIF")

    # When: both are uploaded
    moving_id = upload_photo(local_stack, animation, "moving.gif", "image/gif")["image_id"]
    still_id = upload_photo(local_stack, still, "still.gif", "image/gif")["image_id"]
    moving, first_frame = wait_for_final(local_stack, moving_id), wait_for_final(local_stack, still_id)

    # Then: the later frame decides; the animation is not allowed and not served
    if moving.get("safety") is None:
        pytest.skip("the stack runs without the safety model (`make models` builds it)")
    assert first_frame["verdict"] == "allow", first_frame
    assert moving["status"] == "done" and moving["verdict"] != "allow", moving
    assert moving["safety"]["top_class"] == "sexy"
    assert_error(show(local_stack, moving_id), 403)


def test_the_display_gates_local_throughput_is_measured(local_stack):
    """Every product-page view through the gate is a Lambda invocation: measured here to show why AWS serves
    published photos from the CDN instead (docs/deploy.md#serving-photos). Prints requests per second."""
    import statistics
    import time
    from concurrent.futures import ThreadPoolExecutor

    image_id = upload_photo(local_stack, DOG_PHOTO.read_bytes(), "dog.jpg")["image_id"]
    assert wait_for_final(local_stack, image_id)["status"] == "done"
    force_verdict(local_stack, image_id, "allow")
    requests_total, concurrency = 200, 8

    def one(_: int) -> float:
        started = time.perf_counter()
        assert show(local_stack, image_id).status_code == 302
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, range(requests_total)))
    elapsed = time.perf_counter() - started
    print(
        f"display gate, local host: {requests_total} GET /images/{{id}} at concurrency {concurrency}: "
        f"{requests_total / elapsed:.1f} req/s, median {1000 * statistics.median(latencies):.0f} ms, "
        f"p95 {1000 * sorted(latencies)[int(0.95 * requests_total)]:.0f} ms"
    )
    assert len(latencies) == requests_total
