"""classify.storage.S3PhotoStore: what S3's answers for a photo that is not there mean to the classifier."""

import boto3
import pytest
from botocore.stub import Stubber

from classify.service import ObjectMissing, ObjectRefused
from classify.storage import S3PhotoStore


def s3_answering(code: str, status: int):
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    stubber = Stubber(client)
    stubber.add_client_error("get_object", service_error_code=code, http_status_code=status)
    stubber.activate()
    return client


def test_a_deleted_photo_is_missing_when_s3_says_404():
    # With s3:ListBucket on the bucket (granted on the photo prefixes) this is what S3 answers for a missing key.
    with pytest.raises(ObjectMissing):
        S3PhotoStore(s3_answering("NoSuchKey", 404)).read("images", "uploads/abc.jpg", None)


def test_a_refused_read_is_not_taken_for_a_missing_photo():
    # A 403 is a role that may not read: reporting object_missing would hide it, so it is retried (then the DLQ);
    # DetectModerationLabels answers InvalidS3ObjectException for it.
    with pytest.raises(ObjectRefused) as refused:
        S3PhotoStore(s3_answering("AccessDenied", 403)).read("images", "uploads/abc.jpg", None)
    assert not isinstance(refused.value, ObjectMissing)
