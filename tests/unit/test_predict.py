"""upload.predict with fakes: reading the photo from the request, and the bounded wait for the classifier."""

from datetime import UTC, datetime
from typing import Any

import pytest
from urllib3 import encode_multipart_formdata

from photomod_shared import ids
from photomod_shared.clock import iso
from photomod_shared.errors import FileTooLarge, MalformedRequest, MissingFile, UnsupportedMediaType
from photomod_shared.formats import sniff_content_type
from photomod_shared.prediction import STATUS_DONE, STATUS_FAILED, STATUS_PENDING
from tests.support.predictions import FakePredictions
from upload import predict, service
from upload.models import UploadRequest
from upload.predict import Photo

NOW = datetime(2026, 11, 26, 9, 14, 7, 250000, tzinfo=UTC)
MAX_BYTES = 64 * 1024
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
DOG = JPEG + bytes(range(256)) * 16  # any JPEG-looking bytes: the classifier, not predict, decodes them
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def form(fields: dict[str, Any]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type, as a browser's form or `requests` sends it."""
    return encode_multipart_formdata(fields)


# --- read_photo ------------------------------------------------------------------------------------


def test_the_file_field_of_a_form_is_the_photo():
    body, content_type = form({"note": "hi", "file": ("IMG_2043.jpg", DOG, "image/jpeg")})

    photo = predict.read_photo(body, content_type, len(DOG))

    assert photo == Photo(DOG, "IMG_2043.jpg")


def test_an_image_body_is_the_photo_itself():
    assert predict.read_photo(PNG, "image/png", MAX_BYTES) == Photo(PNG, "")


@pytest.mark.parametrize(
    "fields",
    [
        {"other": ("a.jpg", JPEG, "image/jpeg")},  # no field named file
        {"file": "not a file"},  # a text field named file
        {"file": ("", b"", "application/octet-stream")},  # a file input left empty
        {"file": ("", JPEG, "image/jpeg")},  # a file without a name, as the original service refused
    ],
    ids=["no-file-field", "text-field", "empty-file-input", "empty-filename"],
)
def test_a_form_without_a_named_file_is_refused_as_missing_file(fields):
    body, content_type = form(fields)

    with pytest.raises(MissingFile) as refused:
        predict.read_photo(body, content_type, MAX_BYTES)

    assert refused.value.code == "missing_file"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", "image/jpeg"), (b'{"file": "x"}', "application/json"), (JPEG, None), (JPEG, "application/octet-stream")],
    ids=["empty-image-body", "json", "no-content-type", "octet-stream"],
)
def test_a_body_that_is_neither_a_form_nor_an_image_is_missing_the_file(body, content_type):
    with pytest.raises(MissingFile):
        predict.read_photo(body, content_type, MAX_BYTES)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"--x\r\n", "multipart/form-data"), (b"garbage without any boundary", "multipart/form-data; boundary=abc")],
    ids=["no-boundary-parameter", "no-boundary-in-body"],
)
def test_a_broken_form_is_refused_as_malformed(body, content_type):
    with pytest.raises(MalformedRequest) as refused:
        predict.read_photo(body, content_type, MAX_BYTES)

    assert refused.value.code == "malformed_request"


def test_a_photo_over_the_limit_is_refused_with_413_in_a_form_and_as_a_body():
    body, content_type = form({"file": ("big.jpg", JPEG + bytes(MAX_BYTES), "image/jpeg")})

    with pytest.raises(FileTooLarge) as in_form:
        predict.read_photo(body, content_type, MAX_BYTES)
    with pytest.raises(FileTooLarge) as as_body:
        predict.read_photo(JPEG + bytes(MAX_BYTES), "image/jpeg", MAX_BYTES)

    assert in_form.value.code == as_body.value.code == "file_too_large"
    assert str(MAX_BYTES) in as_body.value.message


# --- sniff_content_type (photomod_shared.formats) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (DOG, "image/jpeg"),
        (PNG, "image/png"),
        (b"GIF89a" + bytes(16), "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(16), "image/webp"),
        (b"BM" + bytes(12) + (40).to_bytes(4, "little") + bytes(16), "image/bmp"),
        (b"II*\x00" + bytes(16), "image/tiff"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(16), "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1" + bytes(16), "image/heif"),
    ],
    ids=["jpeg", "png", "gif", "webp", "bmp", "tiff", "heic", "heif"],
)
def test_supported_images_are_recognised_by_their_magic_bytes(data, content_type):
    assert sniff_content_type(data) == content_type


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, world\n", b"%PDF-1.7\n", b"BMW is a car, not a bitmap", b"\x00\x00\x00\x18ftypavif" + bytes(16)],
    ids=["empty", "text", "pdf", "text-starting-with-BM", "avif"],
)
def test_anything_else_is_not_an_image(data):
    assert sniff_content_type(data) is None


# --- predict ---------------------------------------------------------------------------------------


class FakeClock:
    """monotonic() and sleep() over a fake time line, so waits take no real time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class FakeStore:
    def __init__(self, fail: bool = False) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.fail = fail

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.fail:
            raise ConnectionError("S3 is unreachable")
        self.objects[key] = (data, content_type)

    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        return {"url": "https://images.s3.amazonaws.com/", "fields": {"key": key}}


DONE = {"status": STATUS_DONE, "prediction": "Eskimo_dog", "score": 0.934612, "verdict": "allow"}


def run(photo: Photo, store: FakeStore, predictions: FakePredictions, clock: FakeClock, wait_seconds: float = 20):
    return predict.predict(
        photo,
        wait_seconds=wait_seconds,
        store=store,
        predictions=predictions,
        now=NOW,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )


def test_a_photo_is_recorded_as_pending_then_stored_under_a_server_generated_key():
    store, predictions, clock = FakeStore(), FakePredictions(DONE), FakeClock()

    outcome = run(Photo(DOG, "../../etc/passwd.jpg"), store, predictions, clock)

    ((key, (data, content_type)),) = store.objects.items()
    assert key == ids.upload_key(outcome.image_id, "jpg")
    assert (data, content_type) == (DOG, "image/jpeg")
    item = predictions.items[outcome.image_id]
    assert item["s3_key"] == key and item["source"] == ids.SOURCE_UPLOAD
    assert item["original_filename"] == "../../etc/passwd.jpg"  # stored, never used as a key
    assert (item["content_type"], item["declared_size"], item["created_at"]) == ("image/jpeg", len(DOG), iso(NOW))


def test_the_pending_item_has_the_same_shape_as_a_presigned_uploads():
    predictions = FakePredictions()
    service.create_upload(
        UploadRequest(filename="a.jpg", content_type="image/jpeg", size=len(DOG)),
        policy=service.UploadPolicy(max_bytes=MAX_BYTES, expires_in=300),
        store=FakeStore(),
        predictions=predictions,
        now=NOW,
    )
    (presigned,) = predictions.items.values()
    predicted = FakePredictions()

    outcome = run(Photo(DOG, "a.jpg"), FakeStore(), predicted, FakeClock(), wait_seconds=0)

    assert set(predicted.items[outcome.image_id]) == set(presigned)


def test_the_type_comes_from_the_bytes_not_from_what_the_client_declared():
    store = FakeStore()

    outcome = run(Photo(PNG, "holiday.jpg"), store, FakePredictions(DONE), FakeClock())

    assert store.objects == {ids.upload_key(outcome.image_id, "png"): (PNG, "image/png")}


def test_a_file_that_is_not_an_image_is_refused_before_anything_is_recorded():
    store, predictions = FakeStore(), FakePredictions()

    with pytest.raises(UnsupportedMediaType) as refused:
        run(Photo(b"just some text\n", "notes.txt"), store, predictions, FakeClock())

    assert refused.value.code == "unsupported_media_type"
    assert store.objects == {} and predictions.items == {}


def test_the_classifiers_result_is_returned_with_the_score_rounded_to_four_places():
    clock = FakeClock()

    outcome = run(Photo(DOG, "dog.jpg"), FakeStore(), FakePredictions(DONE, after_gets=3), clock)

    assert (outcome.status, outcome.prediction, outcome.score) == (STATUS_DONE, "Eskimo_dog", 0.9346)
    assert clock.now - 100.0 < 20


def test_a_failed_classification_is_returned_with_its_error_code():
    failed = {"status": STATUS_FAILED, "error": {"code": "corrupt_image", "message": "cannot be decoded"}}

    outcome = run(Photo(JPEG, "broken.jpg"), FakeStore(), FakePredictions(failed, after_gets=1), FakeClock())

    assert (outcome.status, outcome.error_code, outcome.prediction, outcome.score) == (
        STATUS_FAILED,
        "corrupt_image",
        None,
        None,
    )


def test_the_wait_ends_at_the_deadline_with_the_photo_still_pending():
    clock, predictions = FakeClock(), FakePredictions()

    outcome = run(Photo(DOG, "dog.jpg"), FakeStore(), predictions, clock, wait_seconds=20)

    assert outcome.status == STATUS_PENDING and outcome.image_id in predictions.items
    assert clock.now == pytest.approx(120.0)  # exactly the wait, never more
    # Polls back off: far fewer reads than one per 200 ms, none longer apart than a second.
    assert predictions.gets < 35 and max(clock.sleeps) <= predict.MAX_POLL_INTERVAL_S


def test_no_wait_still_reads_the_result_once():
    predictions = FakePredictions()

    outcome = run(Photo(DOG, "dog.jpg"), FakeStore(), predictions, FakeClock(), wait_seconds=0)

    assert outcome.status == STATUS_PENDING and predictions.gets == 1


def test_a_photo_that_cannot_be_stored_ends_failed_and_the_error_propagates():
    predictions = FakePredictions()

    with pytest.raises(ConnectionError):
        run(Photo(DOG, "dog.jpg"), FakeStore(fail=True), predictions, FakeClock())

    (item,) = predictions.items.values()
    assert item["status"] == STATUS_FAILED and item["error"]["code"] == "upload_failed"
