"""What the REST API refuses, and how: the function's {"error": {code, message}} or API Gateway's own errors.

A refused upload must be refused before anything is presigned: no pending prediction may be left behind.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.integration.helpers import (
    HTTP_TIMEOUT_S,
    api_get,
    api_post,
    assert_error,
    assert_gateway_error,
    count_upload_items,
    presign_upload,
)

pytestmark = pytest.mark.integration

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
VALID = {"filename": "photo.jpg", "content_type": "image/jpeg", "size": 12345}
UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def no_upload_created(local_stack):
    """Fails the test if the predictions table gained an upload item while it ran."""
    before = count_upload_items(local_stack)
    yield
    assert count_upload_items(local_stack) == before, "a refused upload left a prediction behind"


# ---------------------------------------------------------------------------- POST /uploads, refused
REFUSED_UPLOADS: dict[str, tuple[Any, str]] = {
    "unsupported content type": ({**VALID, "content_type": "text/plain"}, "unsupported_media_type"),
    "svg is not a photo": ({**VALID, "content_type": "image/svg+xml"}, "unsupported_media_type"),
    "content type with parameters": ({**VALID, "content_type": "image/jpeg; charset=x"}, "unsupported_media_type"),
    "size 0": ({**VALID, "size": 0}, "invalid_request"),
    "negative size": ({**VALID, "size": -1}, "invalid_request"),
    "size over 10 MB": ({**VALID, "size": MAX_UPLOAD_BYTES + 1}, "declared_size_too_large"),
    "size of 1 GB": ({**VALID, "size": 1024**3}, "declared_size_too_large"),
    "missing filename": ({"content_type": "image/jpeg", "size": 10}, "invalid_request"),
    "missing content_type": ({"filename": "a.jpg", "size": 10}, "invalid_request"),
    "missing size": ({"filename": "a.jpg", "content_type": "image/jpeg"}, "invalid_request"),
    "empty object": ({}, "invalid_request"),
    "extra field": ({**VALID, "key": "uploads/mine.jpg"}, "invalid_request"),
    "size as a string": ({**VALID, "size": "12345"}, "invalid_request"),
    "size as a boolean": ({**VALID, "size": True}, "invalid_request"),
    "size with a fraction": ({**VALID, "size": 10.5}, "invalid_request"),
    "filename as a number": ({**VALID, "filename": 123}, "invalid_request"),
    "content_type as a list": ({**VALID, "content_type": ["image/jpeg"]}, "invalid_request"),
    "null body": (None, "invalid_request"),
    "JSON array body": ([VALID], "invalid_request"),
    "JSON string body": ("photo.jpg", "invalid_request"),
    "empty filename": ({**VALID, "filename": ""}, "invalid_request"),
    "filename over 255 characters": ({**VALID, "filename": "a" * 252 + ".jpg"}, "invalid_request"),
    "filename with a newline": ({**VALID, "filename": "photo\n.jpg"}, "invalid_request"),
    "filename with a NUL": ({**VALID, "filename": "photo\x00.jpg"}, "invalid_request"),
    "filename with an escape sequence": ({**VALID, "filename": "\x1b[31mred.jpg"}, "invalid_request"),
}


@pytest.mark.usefixtures("no_upload_created")
@pytest.mark.parametrize("body, code", REFUSED_UPLOADS.values(), ids=REFUSED_UPLOADS.keys())
def test_invalid_upload_request_is_refused_before_anything_is_presigned(local_stack, body: Any, code: str) -> None:
    reply = api_post(local_stack, "/uploads", json=body)

    assert_error(reply, 400, code)


MALFORMED_BODIES = {
    "truncated JSON": b'{"filename": "a.jpg", "content_type": "image/jpeg", "size": 1',
    "not JSON": b"filename=a.jpg&content_type=image/jpeg&size=1",
    "empty body": b"",
    "trailing comma": b'{"filename": "a.jpg", "content_type": "image/jpeg", "size": 1,}',
    "not UTF-8": b'{"filename": "\xff\xfe.jpg", "content_type": "image/jpeg", "size": 1}',
}


@pytest.mark.usefixtures("no_upload_created")
@pytest.mark.parametrize("raw", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_malformed_json_is_refused(local_stack, raw: bytes) -> None:
    reply = api_post(local_stack, "/uploads", data=raw, headers={"Content-Type": "application/json"})

    assert_error(reply, 400, "invalid_request")


# ---------------------------------------------------------------------------- POST /uploads, accepted oddities
def test_largest_allowed_size_is_accepted(local_stack) -> None:
    created = presign_upload(local_stack, "big.jpg", "image/jpeg", MAX_UPLOAD_BYTES)

    assert created["upload"]["fields"]["key"] == f"uploads/{created['image_id']}.jpg"


@pytest.mark.parametrize(
    "content_type, extension",
    [("image/png", "png"), ("image/webp", "webp"), ("image/heic", "heic"), ("IMAGE/JPEG", "jpg")],
)
def test_key_extension_follows_the_content_type(local_stack, content_type: str, extension: str) -> None:
    created = presign_upload(local_stack, "photo", content_type, 100)

    assert created["upload"]["fields"]["key"] == f"uploads/{created['image_id']}.{extension}"
    assert created["upload"]["fields"]["Content-Type"] == content_type.lower()


@pytest.mark.parametrize(
    "filename",
    [
        "Фото с отпуска 📷 (1).jpg",
        "写真.jpeg",
        "café – été.JPG",
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "/abs/path.jpg",
    ],
)
def test_filename_is_metadata_only_and_the_key_is_server_generated(local_stack, filename: str) -> None:
    created = presign_upload(local_stack, filename, "image/jpeg", 100)

    image_id = created["image_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", image_id)
    assert created["upload"]["fields"]["key"] == f"uploads/{image_id}.jpg"
    item = local_stack.table("PredictionsTable").get_item(Key={"image_id": image_id}, ConsistentRead=True)["Item"]
    assert item["original_filename"] == filename
    assert item["s3_key"] == f"uploads/{image_id}.jpg"


# ---------------------------------------------------------------------------- GET /predictions
@pytest.mark.parametrize(
    "image_id",
    ["abc", UNKNOWN_ID.upper(), UNKNOWN_ID + "0", UNKNOWN_ID[:-1], UNKNOWN_ID[:-1] + "g", "x" * 64],
    ids=["short", "uppercase", "33 chars", "31 chars", "not hex", "64 chars"],
)
def test_malformed_image_id_is_400(local_stack, image_id: str) -> None:
    assert_error(api_get(local_stack, f"/predictions/{image_id}"), 400)


def test_overlong_image_id_is_400(local_stack) -> None:
    assert_error(api_get(local_stack, f"/predictions/{'a' * 65}"), 400)


def test_unknown_image_id_is_404(local_stack) -> None:
    assert_error(api_get(local_stack, f"/predictions/{UNKNOWN_ID}"), 404, "image_not_found")


@pytest.mark.parametrize(
    "params, status, code",
    [
        ({}, 400, "missing_key"),
        ({"key": ""}, 400, "missing_key"),
        ({"key": "other/photo.jpg"}, 400, "invalid_key"),
        ({"key": "incoming/"}, 400, "invalid_key"),
        ({"key": "uploads/0123456789abcdef0123456789abcdef.jpg"}, 400, "invalid_key"),
        ({"key": "incoming/tab\there.jpg"}, 400, "invalid_key"),
        ({"key": "incoming/" + "a" * 1100}, 400, None),
        ({"key": "incoming/never-dropped.jpg"}, 404, "image_not_found"),
    ],
    ids=["no key", "empty key", "other prefix", "prefix only", "upload key", "control char", "too long", "unknown"],
)
def test_lookup_by_key_errors(local_stack, params: dict[str, str], status: int, code: str | None) -> None:
    assert_error(api_get(local_stack, "/predictions", params=params), status, code)


# ---------------------------------------------------------------------------- feedback
@pytest.fixture(scope="module")
def pending_image_id(local_stack) -> str:
    return presign_upload(local_stack, "feedback-target.jpg", "image/jpeg", 1000)["image_id"]


@pytest.mark.parametrize(
    "body",
    [
        {"comment": "no label"},
        {"correct_label": ""},
        {"correct_label": "   "},
        {"correct_label": "x" * 201},
        {"correct_label": "dog", "comment": "x" * 1001},
        {"correct_label": "line\nbreak"},
        {"correct_label": 42},
        {"correct_label": "dog", "rating": 5},
        {"correct_label": "dog", "inappropriate": "yes"},
        ["dog"],
        None,
    ],
    ids=[
        "missing label",
        "empty label",
        "blank label",
        "label too long",
        "comment too long",
        "label with newline",
        "label not a string",
        "extra field",
        "inappropriate not a boolean",
        "array",
        "null",
    ],
)
def test_invalid_feedback_is_400(local_stack, pending_image_id: str, body: Any) -> None:
    reply = api_post(local_stack, f"/predictions/{pending_image_id}/feedback", json=body)

    assert_error(reply, 400, "invalid_request")


def test_feedback_with_malformed_json_is_400(local_stack, pending_image_id: str) -> None:
    reply = api_post(
        local_stack,
        f"/predictions/{pending_image_id}/feedback",
        data=b'{"correct_label": "dog"',
        headers={"Content-Type": "application/json"},
    )

    assert_error(reply, 400, "invalid_request")


def test_feedback_comment_of_exactly_1000_characters_is_accepted(local_stack, pending_image_id: str) -> None:
    reply = api_post(
        local_stack, f"/predictions/{pending_image_id}/feedback", json={"correct_label": "dog", "comment": "x" * 1000}
    )

    assert reply.status_code == 201, reply.text


def test_feedback_for_an_unknown_image_is_404(local_stack) -> None:
    reply = api_post(local_stack, f"/predictions/{UNKNOWN_ID}/feedback", json={"correct_label": "dog"})

    assert_error(reply, 404, "image_not_found")


def test_feedback_for_a_malformed_image_id_is_400(local_stack) -> None:
    reply = api_post(local_stack, "/predictions/not-an-id/feedback", json={"correct_label": "dog"})

    assert_error(reply, 400, "invalid_image_id")


# ---------------------------------------------------------------------------- API Gateway's own errors
@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/"),
        ("GET", "/nope"),
        ("POST", "/predictions/0123456789abcdef0123456789abcdef/feedback/extra"),
        ("GET", "/uploads/"),
    ],
)
def test_unknown_route_is_missing_authentication_token(local_stack, method: str, path: str) -> None:
    reply = requests.request(method, f"{local_stack.api_url}{path}", timeout=HTTP_TIMEOUT_S)

    assert_gateway_error(reply, 403, "Missing Authentication Token")


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/uploads"),
        ("PUT", "/uploads"),
        ("DELETE", "/uploads"),
        ("POST", f"/predictions/{UNKNOWN_ID}"),
        ("DELETE", f"/predictions/{UNKNOWN_ID}"),
        ("GET", f"/predictions/{UNKNOWN_ID}/feedback"),
        ("PATCH", "/predictions"),
    ],
)
def test_wrong_method_is_missing_authentication_token(local_stack, method: str, path: str) -> None:
    reply = requests.request(method, f"{local_stack.api_url}{path}", json={}, timeout=HTTP_TIMEOUT_S)

    assert_gateway_error(reply, 403, "Missing Authentication Token")
