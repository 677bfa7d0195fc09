"""upload.display with fakes: only a photo whose verdict is allow gets a (short-lived) URL."""

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber

from photomod_shared.errors import (
    DomainError,
    ImageBlocked,
    ImageFailed,
    ImageInReview,
    ImageNotFound,
    ImagePending,
    ImageUnverified,
    InvalidInput,
)
from photomod_shared.prediction import Prediction
from upload import display
from upload.storage import ImageStore

IMAGE_ID = "9f2c1e4b7a6d4c3e8b1a0f9e8d7c6b5a"
KEY = f"uploads/{IMAGE_ID}.jpg"
VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
RENDITION = f"renditions/{IMAGE_ID}/{VERSION}.jpg"


class FakeStore:
    def __init__(self) -> None:
        self.presigned: list[tuple[str, int]] = []

    def presign_display(self, key: str, expires_in: int) -> str:
        self.presigned.append((key, expires_in))
        return f"https://images.s3.amazonaws.com/{key}?X-Amz-Expires={expires_in}"


class FakePredictions:
    def __init__(self, *items: dict[str, Any]):
        self.items = {item["image_id"]: item for item in items}

    def get(self, image_id: str) -> Prediction | None:
        item = self.items.get(image_id)
        return Prediction.from_item(item) if item else None


def photo(status: str = "done", **attributes: Any) -> dict[str, Any]:
    return {"image_id": IMAGE_ID, "s3_key": KEY, "status": status, "object_version": VERSION, **attributes}


def gate(item: dict[str, Any] | None, store: FakeStore | None = None, image_id: str = IMAGE_ID) -> str:
    predictions = FakePredictions(item) if item else FakePredictions()
    return display.display_url(image_id, expires_in=60, store=store or FakeStore(), predictions=predictions)


def test_an_allowed_photo_gets_a_sixty_second_url_of_its_judged_versions_rendition_never_the_upload():
    store = FakeStore()

    url = gate(photo(verdict="allow"), store)

    assert store.presigned == [(RENDITION, 60)]
    assert url == f"https://images.s3.amazonaws.com/{RENDITION}?X-Amz-Expires=60"


def test_a_photo_a_moderator_allowed_is_shown():
    store = FakeStore()

    gate(photo(verdict="allow", model_verdict="review", moderation={"decision": "allow"}), store)

    assert store.presigned == [(RENDITION, 60)]


@pytest.mark.parametrize(
    ("item", "error", "code"),
    [
        (photo(verdict="block"), ImageBlocked, "image_blocked"),
        (photo(verdict="review"), ImageInReview, "image_in_review"),
        (photo(verdict="block", model_verdict="review"), ImageBlocked, "image_blocked"),
        (photo(verdict="quarantine"), ImageInReview, "image_in_review"),  # unknown verdicts fail closed
        (photo("pending"), ImagePending, "image_pending"),
        (photo("failed", error={"code": "corrupt_image"}), ImageFailed, "image_failed"),
        (None, ImageNotFound, "image_not_found"),
        # A result without the version it judged cannot say which bytes were allowed: nothing is served.
        (photo(verdict="allow", object_version=None), ImageUnverified, "image_unverified"),
    ],
    ids=[
        "blocked",
        "in-review",
        "moderator-blocked",
        "unknown-verdict",
        "pending",
        "failed",
        "unknown-image",
        "allowed-without-version",
    ],
)
def test_every_other_photo_is_refused_with_an_error_and_code_that_say_why(item, error, code):
    store = FakeStore()

    with pytest.raises(DomainError) as refused:
        gate(item, store)

    assert (type(refused.value), refused.value.code) == (error, code)
    assert store.presigned == []


def test_a_failed_photo_stays_refused_even_with_an_allow_verdict_from_an_earlier_photo():
    with pytest.raises(DomainError) as refused:
        gate(photo("failed", verdict="allow"))

    assert refused.value.code == "image_failed"


def test_a_malformed_id_is_a_bad_request():
    with pytest.raises(InvalidInput) as refused:
        gate(None, image_id="../../uploads")

    assert refused.value.code == "invalid_image_id"


def test_the_store_presigns_a_get_with_the_presign_client():
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4"),
    )
    presign_client = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://localhost:4566",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4"),
    )
    store = ImageStore(client, presign_client, "images")

    url = store.presign_display(RENDITION, 60)

    # signed: a link to the judged version's rendition cannot be edited to another key (the upload, say)
    assert url.startswith(f"http://localhost:4566/images/{RENDITION}?")
    assert "X-Amz-Expires=60" in url and "X-Amz-Signature=" in url


def test_the_store_puts_a_photo_with_its_content_type():
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    store = ImageStore(client, client, "images")
    with Stubber(client) as stub:
        stub.add_response("put_object", {}, {"Bucket": "images", "Key": KEY, "Body": ANY, "ContentType": "image/jpeg"})

        store.put(KEY, b"\xff\xd8\xff", "image/jpeg")

        stub.assert_no_pending_responses()
