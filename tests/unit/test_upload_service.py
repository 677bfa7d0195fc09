"""upload.service and upload.storage with fakes: what is validated, recorded and presigned."""

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from photomod_shared import ids
from photomod_shared.errors import ImageNotFound, InvalidInput, UnsupportedMediaType, UploadTooLarge
from photomod_shared.prediction import STATUS_DONE, STATUS_FAILED, STATUS_PENDING
from tests.support.predictions import FakePredictions
from upload import service
from upload.models import UploadRequest
from upload.service import EXTENSIONS_BY_CONTENT_TYPE
from upload.storage import ImageStore

NOW = datetime(2026, 11, 26, 9, 14, 7, 250000, tzinfo=UTC)
POLICY = service.UploadPolicy(max_bytes=10 * 1024 * 1024, expires_in=300)


class FakeStore:
    def __init__(self, existing: tuple[str, ...] = ()):
        self.existing = set(existing)
        self.presigned: list[tuple[str, str, int, int]] = []
        self.checked: list[str] = []

    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        self.presigned.append((key, content_type, max_bytes, expires_in))
        return {"url": "https://images.s3.amazonaws.com/", "fields": {"key": key, "Content-Type": content_type}}

    def exists(self, key: str) -> bool:
        self.checked.append(key)
        return key in self.existing


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def predictions() -> FakePredictions:
    return FakePredictions()


def create(request: UploadRequest, store: FakeStore, predictions: FakePredictions, now: datetime = NOW):
    created = service.create_upload(request, policy=POLICY, store=store, predictions=predictions, now=now)
    return dataclasses.asdict(created)


def jpeg_request(**overrides: Any) -> UploadRequest:
    return UploadRequest(**{"filename": "IMG_2043.jpg", "content_type": "image/jpeg", "size": 2_483_117, **overrides})


# --- create_upload ---------------------------------------------------------------------------------


def test_create_upload_records_a_pending_item_under_a_server_generated_key(store, predictions):
    created = create(jpeg_request(), store, predictions)

    image_id = created["image_id"]
    assert ids.is_image_id(image_id)
    assert predictions.items[image_id] == {
        "image_id": image_id,
        "status": STATUS_PENDING,
        "s3_key": f"uploads/{image_id}.jpg",
        "source": ids.SOURCE_UPLOAD,
        "original_filename": "IMG_2043.jpg",
        "content_type": "image/jpeg",
        "declared_size": 2_483_117,
        "created_at": "2026-11-26T09:14:07.250Z",
        "upload_expires_at": "2026-11-26T09:19:07.250Z",
    }


def test_create_upload_presigns_the_key_with_content_type_size_limit_and_expiry(store, predictions):
    created = create(jpeg_request(), store, predictions)

    key = f"uploads/{created['image_id']}.jpg"
    # The limit presigned is the policy's, not the declared size: the declaration is only the client's word.
    assert store.presigned == [(key, "image/jpeg", POLICY.max_bytes, POLICY.expires_in)]
    assert created["upload"] == {
        "url": "https://images.s3.amazonaws.com/",
        "fields": {"key": key, "Content-Type": "image/jpeg"},
    }
    assert created["expires_in"] == 300


def test_the_shoppers_file_name_never_becomes_part_of_the_key(store, predictions):
    created = create(jpeg_request(filename="../../etc/passwd.jpg"), store, predictions)

    assert predictions.items[created["image_id"]]["s3_key"] == f"uploads/{created['image_id']}.jpg"
    assert predictions.items[created["image_id"]]["original_filename"] == "../../etc/passwd.jpg"


@pytest.mark.parametrize(("content_type", "extension"), sorted(EXTENSIONS_BY_CONTENT_TYPE.items()))
def test_every_supported_type_gets_its_extension(store, predictions, content_type, extension):
    created = create(jpeg_request(content_type=content_type), store, predictions)

    assert store.presigned[0][0] == f"uploads/{created['image_id']}.{extension}"


def test_content_types_are_matched_case_insensitively_and_presigned_lower_case(store, predictions):
    created = create(jpeg_request(content_type="Image/PNG"), store, predictions)

    assert store.presigned[0][:2] == (f"uploads/{created['image_id']}.png", "image/png")


@pytest.mark.parametrize(
    "content_type", ["image/svg+xml", "application/pdf", "text/html", "image/jpeg; q=1", "image/*"]
)
def test_unsupported_content_types_are_refused_before_anything_is_recorded(store, predictions, content_type):
    with pytest.raises(UnsupportedMediaType) as raised:
        create(jpeg_request(content_type=content_type), store, predictions)

    assert raised.value.code == "unsupported_media_type"
    assert content_type in raised.value.message
    assert predictions.items == {} and store.presigned == []


def test_a_file_over_the_limit_is_refused(store, predictions):
    # An invalid request (400), unlike a /predict body over the limit (413, photomod_shared.errors.FileTooLarge).
    with pytest.raises(UploadTooLarge) as raised:
        create(jpeg_request(size=POLICY.max_bytes + 1), store, predictions)

    assert isinstance(raised.value, InvalidInput) and raised.value.code == "file_too_large"
    assert predictions.items == {} and store.presigned == []


def test_a_file_exactly_at_the_limit_is_accepted(store, predictions):
    create(jpeg_request(size=POLICY.max_bytes), store, predictions)

    assert len(predictions.items) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"size": 0},
        {"size": -1},
        {"filename": ""},
        {"filename": "a\nb.jpg"},
        {"filename": "x" * 256},
        {"content_type": ""},
        {"unexpected": "field"},
    ],
)
def test_malformed_requests_fail_validation(fields):
    with pytest.raises(ValidationError):
        jpeg_request(**fields)


# --- get_prediction --------------------------------------------------------------------------------


def get(image_id: str, store: FakeStore, predictions: FakePredictions, now: datetime = NOW) -> dict[str, Any]:
    return (
        service.get_prediction(image_id, store=store, predictions=predictions, now=now).view().model_dump(mode="json")
    )


@pytest.mark.parametrize("image_id", ["abc", "9F2C1E4B7A6D4C3E8B1A0F9E8D7C6B5A", "../uploads", ""])
def test_get_prediction_refuses_malformed_ids_with_400(store, predictions, image_id):
    with pytest.raises(InvalidInput) as raised:
        get(image_id, store, predictions)

    assert raised.value.code == "invalid_image_id"


def test_get_prediction_of_an_unknown_image_is_404(store, predictions):
    with pytest.raises(ImageNotFound) as raised:
        get(ids.new_image_id(), store, predictions)

    assert raised.value.code == "image_not_found"


def test_a_fresh_upload_reads_as_pending_without_looking_for_the_object(store, predictions):
    image_id = create(jpeg_request(), store, predictions)["image_id"]

    view = get(image_id, store, predictions, now=NOW + timedelta(seconds=30))

    assert view["status"] == STATUS_PENDING and view["error"] is None
    assert store.checked == []


def test_an_upload_that_never_arrived_fails_once_expiry_and_grace_have_passed(store, predictions):
    image_id = create(jpeg_request(), store, predictions)["image_id"]
    later = NOW + timedelta(seconds=POLICY.expires_in) + service.ARRIVAL_GRACE + timedelta(seconds=1)

    view = get(image_id, store, predictions, now=later)

    assert view["status"] == STATUS_FAILED
    assert view["error"]["code"] == "upload_not_received"
    assert store.checked == [f"uploads/{image_id}.jpg"]


def test_within_the_grace_period_a_missing_object_is_still_pending(store, predictions):
    image_id = create(jpeg_request(), store, predictions)["image_id"]
    just_expired = NOW + timedelta(seconds=POLICY.expires_in) + service.ARRIVAL_GRACE

    assert get(image_id, store, predictions, now=just_expired)["status"] == STATUS_PENDING


class ForbiddenStore(FakeStore):
    """S3 as a role without s3:ListBucket sees it: a missing key answers 403, so arrival cannot be told."""

    def exists(self, key: str) -> bool:
        self.checked.append(key)
        raise service.ArrivalUnknown(key)


def test_an_expired_upload_whose_arrival_s3_will_not_tell_stays_pending_without_an_error(predictions):
    store = ForbiddenStore()
    image_id = create(jpeg_request(), store, predictions)["image_id"]

    view = get(image_id, store, predictions, now=NOW + timedelta(hours=1))

    assert view["status"] == STATUS_PENDING and view["error"] is None
    assert predictions.items[image_id]["status"] == STATUS_PENDING  # not failed: it may be in the classify queue
    assert store.checked == [f"uploads/{image_id}.jpg"]


def test_an_upload_that_arrived_but_is_not_classified_yet_stays_pending(predictions):
    store = FakeStore()
    image_id = create(jpeg_request(), store, predictions)["image_id"]
    store.existing.add(f"uploads/{image_id}.jpg")

    view = get(image_id, store, predictions, now=NOW + timedelta(hours=1))

    assert view["status"] == STATUS_PENDING and view["error"] is None


def test_a_classified_upload_is_never_checked_for_arrival(store, predictions):
    image_id = create(jpeg_request(), store, predictions)["image_id"]
    predictions.items[image_id].update(status=STATUS_DONE, prediction="tabby", score=0.9)

    view = get(image_id, store, predictions, now=NOW + timedelta(days=1))

    assert (view["status"], view["prediction"]) == (STATUS_DONE, "tabby")
    assert store.checked == []


# --- find_prediction_by_key ------------------------------------------------------------------------


def find(key: str | None, store: FakeStore, predictions: FakePredictions) -> dict[str, Any]:
    return (
        service.find_prediction_by_key(key, store=store, predictions=predictions, now=NOW)
        .view()
        .model_dump(mode="json")
    )


def test_find_by_key_returns_the_drop_folder_prediction(store, predictions):
    key = "incoming/summer sale/shoe(1).jpg"
    image_id = ids.image_id_for_key(key)
    predictions.items[image_id] = {"image_id": image_id, "status": STATUS_DONE, "s3_key": key, "prediction": "clog"}

    view = find(key, store, predictions)

    assert (view["image_id"], view["prediction"], view["s3_key"]) == (image_id, "clog", key)


@pytest.mark.parametrize(("key", "code"), [(None, "missing_key"), ("", "missing_key"), ("photos/a.jpg", "invalid_key")])
def test_find_by_key_refuses_missing_and_foreign_keys(store, predictions, key, code):
    with pytest.raises(InvalidInput) as raised:
        find(key, store, predictions)

    assert raised.value.code == code


def test_find_by_key_only_accepts_drop_folder_keys_not_upload_keys(store, predictions):
    image_id = create(jpeg_request(), store, predictions)["image_id"]

    with pytest.raises(InvalidInput):
        find(f"uploads/{image_id}.jpg", store, predictions)


def test_find_by_key_of_an_unseen_object_is_404_naming_the_key(store, predictions):
    with pytest.raises(ImageNotFound) as raised:
        find("incoming/not-yet.jpg", store, predictions)

    assert raised.value.code == "image_not_found"
    assert "incoming/not-yet.jpg" in raised.value.message


# --- ImageStore (the S3 adapter) -------------------------------------------------------------------


class FakeS3Client:
    exceptions = type("Exceptions", (), {"ClientError": ClientError})

    def __init__(self, head_error: str | None = None):
        self.head_error = head_error
        self.presign_calls: list[dict[str, Any]] = []

    def generate_presigned_post(self, **kwargs: Any) -> dict[str, Any]:
        self.presign_calls.append(kwargs)
        return {"url": "https://presign.example/", "fields": {"key": kwargs["Key"], "policy": "e30="}}

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if self.head_error:
            raise ClientError({"Error": {"Code": self.head_error, "Message": "x"}}, "HeadObject")
        return {"ContentLength": 1}


def test_image_store_presigns_with_the_presign_client_and_pins_type_and_size():
    client, presign_client = FakeS3Client(), FakeS3Client()
    store = ImageStore(client, presign_client, "images")

    upload = store.presign_upload("uploads/abc.jpg", "image/jpeg", 1024, 120)

    assert client.presign_calls == []
    assert presign_client.presign_calls == [
        {
            "Bucket": "images",
            "Key": "uploads/abc.jpg",
            "Fields": {"Content-Type": "image/jpeg"},
            "Conditions": [{"Content-Type": "image/jpeg"}, ["content-length-range", 1, 1024]],
            "ExpiresIn": 120,
        }
    ]
    assert upload == {"url": "https://presign.example/", "fields": {"key": "uploads/abc.jpg", "policy": "e30="}}


@pytest.mark.parametrize(("error", "exists"), [(None, True), ("404", False), ("NoSuchKey", False), ("NotFound", False)])
def test_image_store_exists_treats_not_found_as_absent(error, exists):
    client = FakeS3Client(head_error=error)

    assert ImageStore(client, client, "images").exists("uploads/abc.jpg") is exists


@pytest.mark.parametrize("error", ["403", "AccessDenied"])
def test_image_store_exists_reports_a_403_as_unknown_not_as_absent(error):
    client = FakeS3Client(head_error=error)

    with pytest.raises(service.ArrivalUnknown):
        ImageStore(client, client, "images").exists("uploads/abc.jpg")


def test_image_store_exists_does_not_hide_other_errors():
    client = FakeS3Client(head_error="SlowDown")

    with pytest.raises(ClientError):
        ImageStore(client, client, "images").exists("uploads/abc.jpg")
