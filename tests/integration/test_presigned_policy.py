"""S3 enforces the presigned POST's policy: what the upload function signed is all a browser can store.

moto server does not check policies (the policy's content is checked in test_upload_flow.py); LocalStack and
AWS do, so these run there (`make test-localstack`, `make test-integration STACK=...`).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import DOG_PHOTO, post_to_s3, presign_upload, wait_for_final

pytestmark = [pytest.mark.integration, pytest.mark.presigned_policy_enforced]


def _size_limit(upload: dict[str, Any]) -> int:
    conditions = json.loads(base64.b64decode(upload["fields"]["policy"]))["conditions"]
    (limit,) = [
        condition[2]
        for condition in conditions
        if isinstance(condition, list) and condition[0] == "content-length-range"
    ]
    return int(limit)


def _assert_not_stored(stack, key: str) -> None:
    with pytest.raises(ClientError) as missing:
        stack.client("s3").head_object(Bucket=stack.bucket, Key=key)
    assert missing.value.response["Error"]["Code"] in ("404", "NoSuchKey"), missing.value.response


def test_upload_larger_than_the_policy_allows_is_refused(local_stack) -> None:
    created = presign_upload(local_stack, "dog.jpeg", "image/jpeg", DOG_PHOTO.stat().st_size)
    upload = created["upload"]
    too_large = b"\xff" * (_size_limit(upload) + 1)

    reply = post_to_s3(upload, too_large, "dog.jpeg", "image/jpeg")

    assert reply.status_code == 400, reply.text
    assert "<Code>EntityTooLarge</Code>" in reply.text
    _assert_not_stored(local_stack, upload["fields"]["key"])


def test_empty_upload_is_refused(local_stack) -> None:
    created = presign_upload(local_stack, "dog.jpeg", "image/jpeg", DOG_PHOTO.stat().st_size)

    reply = post_to_s3(created["upload"], b"", "dog.jpeg", "image/jpeg")

    assert reply.status_code == 400, reply.text
    _assert_not_stored(local_stack, created["upload"]["fields"]["key"])


def test_upload_of_another_type_than_declared_is_refused(local_stack) -> None:
    created = presign_upload(local_stack, "dog.jpeg", "image/jpeg", DOG_PHOTO.stat().st_size)
    upload = created["upload"]
    # A browser that swaps the signed Content-Type field for the type it really sends
    swapped = {**upload, "fields": {**upload["fields"], "Content-Type": "text/html"}}

    reply = post_to_s3(swapped, b"<script>alert(1)</script>", "dog.html", "text/html")

    assert reply.status_code == 403, reply.text
    assert "<Code>AccessDenied</Code>" in reply.text
    _assert_not_stored(local_stack, upload["fields"]["key"])


def test_upload_to_another_key_than_signed_is_refused(local_stack) -> None:
    created = presign_upload(local_stack, "dog.jpeg", "image/jpeg", DOG_PHOTO.stat().st_size)
    upload = created["upload"]
    elsewhere = "incoming/" + upload["fields"]["key"].rsplit("/", 1)[-1]
    moved = {**upload, "fields": {**upload["fields"], "key": elsewhere}}

    reply = post_to_s3(moved, DOG_PHOTO.read_bytes(), "dog.jpeg", "image/jpeg")

    assert reply.status_code == 403, reply.text
    _assert_not_stored(local_stack, elsewhere)


def test_upload_within_the_policy_is_stored_and_classified(local_stack) -> None:
    data = DOG_PHOTO.read_bytes()
    created = presign_upload(local_stack, "dog.jpeg", "image/jpeg", len(data))

    reply = post_to_s3(created["upload"], data, "dog.jpeg", "image/jpeg")

    assert reply.status_code in (200, 201, 204), reply.text
    assert wait_for_final(local_stack, created["image_id"])["status"] == "done"
