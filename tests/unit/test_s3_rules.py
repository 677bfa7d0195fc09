"""photomod_shared.s3: the S3 rules every adapter over the images bucket shares."""

import boto3
import pytest
from botocore.exceptions import ClientError

from photomod_shared import ids, s3


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "..."}}, "HeadObject")


@pytest.mark.parametrize("code", ["404", "NoSuchKey", "NoSuchVersion", "NotFound"])
def test_every_word_s3_has_for_a_missing_object_means_not_found(code):
    assert s3.is_not_found(client_error(code))


@pytest.mark.parametrize("code", ["403", "AccessDenied", "SlowDown", "500"])
def test_a_refusal_or_a_failure_is_not_a_missing_object(code):
    assert not s3.is_not_found(client_error(code))


def test_anything_but_a_client_error_has_no_code():
    assert s3.error_code(ValueError("no response")) is None


@pytest.mark.parametrize(("value", "pinned"), [("null", None), ("", None), (None, None), ("3HL4kqtJ", "3HL4kqtJ")])
def test_the_version_null_pins_nothing(value, pinned):
    assert s3.pinned_version(value) == pinned


def test_an_unversioned_rendition_is_kept_under_the_name_s3_gives_its_version():
    assert ids.rendition_key("a" * 32, None) == f"renditions/{'a' * 32}/{s3.UNVERSIONED}.jpg"


def test_the_presigned_get_names_the_key_and_expires():
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    url = s3.presign_get(client, "photos", "renditions/abc/v1.jpg", 60)
    assert "photos" in url and "renditions/abc/v1.jpg" in url
    assert "Expires=" in url or "X-Amz-Expires=60" in url
