"""The served face detector on real photos: classify.faces (our letterbox, anchors, decoding and suppression) with the
hash-checked BlazeFace file `make models` fetched, under LiteRT, on the rendition's pixels as the check sees them."""

import pytest
from PIL import Image

from classify.faces import MODEL_FILE, load_face_detector
from classify.rendition import make_rendition
from infra.paths import REPO_ROOT

SERVED = REPO_ROOT / "models" / MODEL_FILE
SAMPLES = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"

pytestmark = pytest.mark.skipif(
    not (SERVED.is_file() and SAMPLES.is_dir()),
    reason="needs `make models` (models/face_detection_full_range.tflite) and the sample photos in ../shared/data",
)


def rendition_pixels(name: str) -> Image.Image:
    shown: list[Image.Image] = []
    make_rendition((SAMPLES / name).read_bytes(), lambda image: None, inspect=lambda seen: shown.append(seen) or seen)
    return shown[0]


@pytest.fixture(scope="module")
def detector():
    return load_face_detector(str(SERVED), required=True)


def test_a_portrait_has_one_face_boxed_where_it_is(detector):
    image = rendition_pixels("n03617480_kimono.JPEG")  # a woman standing, her face in the upper third

    faces = detector.detect(image)

    assert len(faces) == 1 and faces[0].confidence > 0.9
    face = faces[0]
    # Where the face is in the 1102 x 1600 photo (437, 185, 236 px wide), in the rendition's own pixels.
    scale = image.height / 1600
    assert abs(face.x - 437 * scale) <= 8 and abs(face.y - 185 * scale) <= 8 and abs(face.width - 236 * scale) <= 12
    assert face.width == pytest.approx(face.height, abs=4)


def test_two_people_are_two_faces_and_a_product_photo_has_none(detector):
    assert len(detector.detect(rendition_pixels("n03124170_cowboy_hat.JPEG"))) == 2  # a man and a baby
    assert detector.detect(rendition_pixels("n04442312_toaster.JPEG")) == []


def test_a_face_is_found_whatever_the_photos_shape(detector):
    image = rendition_pixels("n03617480_kimono.JPEG")
    wide = Image.new("RGB", (image.width * 3, image.height), (40, 40, 40))
    wide.paste(image, (image.width, 0))

    faces = detector.detect(wide)

    assert len(faces) == 1 and abs(faces[0].x - (image.width + 437 * image.height / 1600)) <= 12
