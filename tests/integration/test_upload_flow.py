"""The shopper's path over real HTTP: presign -> POST to S3 -> classified -> result -> feedback; CORS for the page."""

from __future__ import annotations

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.integration.helpers import (
    DOG_PHOTO,
    HTTP_TIMEOUT_S,
    SAMPLES_DIR,
    api_get,
    api_post,
    expected_model,
    get_prediction,
    post_to_s3,
    presign_upload,
    unique,
    upload_photo,
    wait_for_final,
)

pytestmark = pytest.mark.integration

# A fixed, varied set: the smallest files, grayscale JPEGs, the largest, portrait and square, plain photos.
SAMPLES = [
    "n01871265_tusker.JPEG",  # 75x56, 2 KB: smaller than 224 on both sides
    "n03866082_overskirt.JPEG",  # 68x121, portrait and tiny
    "n02749479_assault_rifle.JPEG",  # grayscale (mode L)
    "n04356056_sunglasses.JPEG",  # grayscale (mode L)
    "n03843555_oil_filter.JPEG",  # 1836x1377, the largest file (724 KB)
    "n03617480_kimono.JPEG",  # 1124x1632 portrait
    "n02100583_vizsla.JPEG",  # 794x709, 606 KB
    "n03498962_hatchet.JPEG",  # 400x241 landscape
    "n04442312_toaster.JPEG",  # 300x300 square
    "n02123045_tabby.JPEG",  # an ordinary 500x375 photo
]
PHOTOS = {"dog.jpeg": DOG_PHOTO} | {name: SAMPLES_DIR / name for name in SAMPLES}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
WNID = re.compile(r"^n\d{8}$")


def _timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def classified(local_stack) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Every photo uploaded at once (so the classifier batches them), then waited for: name -> (upload, result)."""
    missing = [str(path) for path in PHOTOS.values() if not path.is_file()]
    assert not missing, f"test photos missing: {missing}"

    def upload(name: str) -> dict[str, Any]:
        return upload_photo(local_stack, PHOTOS[name].read_bytes(), name, "image/jpeg")

    with ThreadPoolExecutor(max_workers=4) as pool:
        uploads = dict(zip(PHOTOS, pool.map(upload, PHOTOS), strict=True))
    return {name: (created, wait_for_final(local_stack, created["image_id"])) for name, created in uploads.items()}


def test_presigned_post_is_sigv4_and_limits_type_size_key_and_expiry(local_stack) -> None:
    # When the page asks to upload a JPEG
    created = presign_upload(local_stack, "dog.jpeg", "image/jpeg", DOG_PHOTO.stat().st_size)

    # Then the key is server-generated, and the result URL points at this API
    image_id, fields = created["image_id"], created["upload"]["fields"]
    assert re.fullmatch(r"[0-9a-f]{32}", image_id)
    assert fields["key"] == f"uploads/{image_id}.jpg"
    assert created["result_url"] == f"{local_stack.api_url}/predictions/{image_id}"
    # path style locally (http://127.0.0.1:4566/<bucket>), virtual-hosted on AWS (https://<bucket>.s3...)
    assert local_stack.bucket in created["upload"]["url"]

    # ... the POST is signed with SigV4 (moto does not check the policy, so its content is checked here)
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert re.fullmatch(r"[^/]+/\d{8}/us-east-1/s3/aws4_request", fields["x-amz-credential"])
    assert re.fullmatch(r"[0-9a-f]{64}", fields["x-amz-signature"])
    assert fields["Content-Type"] == "image/jpeg"
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 1, MAX_UPLOAD_BYTES] in conditions
    assert {"key": fields["key"]} in conditions
    assert {"bucket": local_stack.bucket} in conditions
    assert {"x-amz-algorithm": "AWS4-HMAC-SHA256"} in conditions
    assert {"x-amz-credential": fields["x-amz-credential"]} in conditions
    assert {"x-amz-date": fields["x-amz-date"]} in conditions

    # ... and it expires within five minutes of being signed
    signed_at = datetime.strptime(fields["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    expires_at = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 0 < created["expires_in"] <= 300
    assert (expires_at - signed_at).total_seconds() == created["expires_in"]
    assert abs((signed_at - datetime.now(UTC)).total_seconds()) < 60


def test_prediction_is_pending_until_the_photo_arrives(local_stack) -> None:
    created = presign_upload(local_stack, "later.png", "image/png", 5000)

    reply = get_prediction(local_stack, created["image_id"])

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["image_id"] == created["image_id"]
    assert body["status"] == "pending"
    assert body["source"] == "upload"
    assert body["prediction"] is None and body["labels"] == [] and body["verdict"] is None
    assert body["classified_at"] is None and body["error"] is None
    assert _timestamp(body["created_at"]) <= datetime.now(UTC)
    assert created["upload"]["fields"]["key"] == f"uploads/{created['image_id']}.png"


def test_object_posted_with_the_presigned_fields_is_stored_under_the_server_key(local_stack) -> None:
    data = DOG_PHOTO.read_bytes()
    created = presign_upload(local_stack, "my holiday/../dog.jpeg", "image/jpeg", len(data))

    reply = post_to_s3(created["upload"], data, "dog.jpeg", "image/jpeg")

    assert reply.status_code in (200, 201, 204), reply.text
    head = local_stack.client("s3").head_object(Bucket=local_stack.bucket, Key=created["upload"]["fields"]["key"])
    assert head["ContentLength"] == len(data)
    assert head["ContentType"] == "image/jpeg"
    wait_for_final(local_stack, created["image_id"])


@pytest.mark.parametrize("name", list(PHOTOS))
def test_uploaded_photo_is_classified_with_five_labels_and_a_verdict(local_stack, classified, name: str) -> None:
    created, result = classified[name]

    assert result["status"] == "done", result
    assert result["image_id"] == created["image_id"]
    assert result["error"] is None
    assert result["source"] == "upload"
    assert result["s3_key"] == created["upload"]["fields"]["key"]

    labels = result["labels"]
    assert len(labels) == 5
    for label in labels:
        assert set(label) == {"label", "wnid", "score"}, label
        assert isinstance(label["label"], str) and label["label"]
        assert WNID.match(label["wnid"]), label
        assert 0.0 <= label["score"] <= 1.0, label
    scores = [label["score"] for label in labels]
    assert scores == sorted(scores, reverse=True)
    assert len({label["wnid"] for label in labels}) == 5
    assert result["prediction"] == labels[0]["label"]
    assert result["score"] == pytest.approx(labels[0]["score"], abs=1e-4)

    assert result["verdict"] in ("allow", "review", "block")
    # Without ImageNet weights (the local stack here) predictions must say they come from an untrained model.
    assert result["model"] == expected_model(local_stack)
    assert _timestamp(result["classified_at"]) >= _timestamp(result["created_at"])


def test_feedback_is_stored_with_the_key_and_the_prediction_it_corrects(local_stack, classified) -> None:
    created, result = classified["dog.jpeg"]
    comment = f"integration test {unique()}: this is a husky"

    # When the shopper reports the right label
    reply = api_post(
        local_stack,
        f"/predictions/{created['image_id']}/feedback",
        json={"correct_label": "Siberian_husky", "comment": comment},
    )

    # Then it is recorded
    assert reply.status_code == 201, reply.text
    recorded = reply.json()
    assert recorded["image_id"] == created["image_id"]
    assert recorded["feedback_id"]
    assert _timestamp(recorded["created_at"]) >= _timestamp(result["classified_at"])

    # ... next to what the model said when the shopper saw it
    item = (
        local_stack.table("FeedbackTable")
        .get_item(Key={"image_id": created["image_id"], "feedback_id": recorded["feedback_id"]}, ConsistentRead=True)
        .get("Item")
    )
    assert item is not None, "no feedback item stored"
    assert item["s3_key"] == created["upload"]["fields"]["key"]
    assert item["prediction"] == result["prediction"]
    assert item["score"] == Decimal(str(result["score"]))
    assert item["correct_label"] == "Siberian_husky"
    assert item["comment"] == comment


def test_api_responses_allow_the_web_origin(local_stack, classified) -> None:
    origin = {"Origin": local_stack.web_origin}
    created, _ = classified["dog.jpeg"]
    replies = {
        "POST /uploads": api_post(
            local_stack,
            "/uploads",
            json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 10},
            headers=origin,
        ),
        "GET /predictions/{id}": api_get(local_stack, f"/predictions/{created['image_id']}", headers=origin),
        "GET /predictions?key=": api_get(
            local_stack, "/predictions", params={"key": "incoming/none.jpg"}, headers=origin
        ),
        "POST feedback": api_post(
            local_stack, f"/predictions/{created['image_id']}/feedback", json={"correct_label": "dog"}, headers=origin
        ),
        "a 400 from the function": api_post(local_stack, "/uploads", json={}, headers=origin),
    }
    for name, reply in replies.items():
        assert reply.headers.get("Access-Control-Allow-Origin") == local_stack.web_origin, (name, dict(reply.headers))


def test_api_does_not_allow_another_origin(local_stack) -> None:
    reply = api_post(
        local_stack,
        "/uploads",
        json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 10},
        headers={"Origin": "https://evil.example"},
    )

    assert reply.status_code == 201
    assert reply.headers.get("Access-Control-Allow-Origin") in (None, local_stack.web_origin)


@pytest.mark.parametrize("path", ["/uploads", "/predictions/0123456789abcdef0123456789abcdef/feedback"])
def test_api_answers_the_cors_preflight_for_the_web_origin(local_stack, path: str) -> None:
    reply = requests.options(
        f"{local_stack.api_url}{path}",
        headers={
            "Origin": local_stack.web_origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=HTTP_TIMEOUT_S,
    )

    assert reply.status_code == 200, reply.text
    assert reply.headers["Access-Control-Allow-Origin"] == local_stack.web_origin
    methods = {method.strip() for method in reply.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"POST", "OPTIONS"} <= methods
    allowed_headers = {header.strip().lower() for header in reply.headers["Access-Control-Allow-Headers"].split(",")}
    assert "content-type" in allowed_headers


def test_bucket_answers_the_cors_preflight_for_a_post_from_the_web_origin(local_stack) -> None:
    created = presign_upload(local_stack, "dog.jpeg", "image/jpeg", 100)

    reply = requests.options(
        created["upload"]["url"],
        headers={
            "Origin": local_stack.web_origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=HTTP_TIMEOUT_S,
    )

    assert reply.status_code == 200, reply.text
    assert reply.headers["Access-Control-Allow-Origin"] == local_stack.web_origin
    assert "POST" in {method.strip() for method in reply.headers["Access-Control-Allow-Methods"].split(",")}


def test_bucket_refuses_the_cors_preflight_from_another_origin(local_stack) -> None:
    created = presign_upload(local_stack, "dog.jpeg", "image/jpeg", 100)

    reply = requests.options(
        created["upload"]["url"],
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=HTTP_TIMEOUT_S,
    )

    assert reply.status_code == 403, reply.text


def test_feedback_on_a_photo_still_pending_is_recorded_with_its_status(local_stack) -> None:
    created = presign_upload(local_stack, "soon.jpg", "image/jpeg", 1000)

    reply = api_post(local_stack, f"/predictions/{created['image_id']}/feedback", json={"correct_label": "shoe"})

    assert reply.status_code == 201, reply.text
    item = (
        local_stack.table("FeedbackTable")
        .get_item(Key={"image_id": created["image_id"], "feedback_id": reply.json()["feedback_id"]})
        .get("Item")
    )
    assert item is not None
    assert item["status_at_feedback"] == "pending"
    assert item["s3_key"] == f"uploads/{created['image_id']}.jpg"
    assert "prediction" not in item
