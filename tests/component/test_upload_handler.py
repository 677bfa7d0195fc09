"""The upload function's handler under moto: presigned uploads, prediction look-ups, API error bodies."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from photomod_shared import ids
from photomod_shared.prediction import Prediction
from photomod_shared.tables import PredictionTable
from tests.component.mocked import header, response_json

WEB_ORIGIN = "http://localhost:8000"


@pytest.fixture
def upload_app(stack):
    with stack.handler_module("UploadFunction") as module:
        yield module


@pytest.fixture
def call(stack, upload_app):
    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        return upload_app.lambda_handler(event, stack.context("UploadFunction"))

    return invoke


def with_body(event: dict[str, Any], body: Any) -> dict[str, Any]:
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def for_image(event: dict[str, Any], image_id: str) -> dict[str, Any]:
    event["pathParameters"] = {"image_id": image_id}
    event["path"] = f"/predictions/{image_id}"
    event["requestContext"]["path"] = f"/v1/predictions/{image_id}"
    return event


def assert_error(response: dict[str, Any], status: int, code: str) -> str:
    assert response["statusCode"] == status, response
    body = response_json(response)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]["message"]


def pending_count(stack) -> int:
    return stack.table("PredictionsTable").scan(Select="COUNT")["Count"]


# --- POST /uploads ---------------------------------------------------------------------------------


def test_create_upload_returns_201_and_records_a_pending_item(stack, call, load_event):
    response = call(load_event("create_upload"))

    assert response["statusCode"] == 201
    assert header(response, "Content-Type") == "application/json"
    assert header(response, "Access-Control-Allow-Origin") == WEB_ORIGIN
    created = response_json(response)
    image_id = created["image_id"]
    assert ids.is_image_id(image_id)
    assert created["expires_in"] == 300
    # The stage is part of the URL when the client called the execute-api domain.
    assert created["result_url"] == f"https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/predictions/{image_id}"
    item = stack.table("PredictionsTable").get_item(Key={"image_id": image_id})["Item"]
    assert item["status"] == "pending"
    assert item["s3_key"] == f"uploads/{image_id}.jpg"
    assert (item["original_filename"], item["content_type"], int(item["declared_size"])) == (
        "IMG_2043.jpg",
        "image/jpeg",
        2483117,
    )
    assert item["source"] == "upload"


def test_the_presigned_post_pins_key_type_size_and_a_short_expiry(stack, call, load_event):
    before = datetime.now(UTC)

    created = response_json(call(load_event("create_upload")))

    upload = created["upload"]
    key = f"uploads/{created['image_id']}.jpg"
    assert upload["url"] == f"https://{stack.bucket}.s3.amazonaws.com/"
    fields = upload["fields"]
    assert (fields["key"], fields["Content-Type"], fields["x-amz-algorithm"]) == (key, "image/jpeg", "AWS4-HMAC-SHA256")
    assert {"x-amz-credential", "x-amz-date", "x-amz-signature", "policy"} <= set(fields)
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 1, 10 * 1024 * 1024] in conditions
    assert {"bucket": stack.bucket} in conditions
    assert {"key": key} in conditions
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert before < expiration <= datetime.now(UTC) + timedelta(minutes=5)


def test_the_presigned_post_uploads_the_photo(stack, call, load_event):
    created = response_json(call(load_event("create_upload")))
    upload = created["upload"]

    # The browser's form POST (moto answers it in-process).
    response = requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("IMG_2043.jpg", b"\xff\xd8\xff\xe0jpeg", "image/jpeg")},
        timeout=10,
    )

    assert response.status_code in (200, 204)
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key=f"uploads/{created['image_id']}.jpg")
    assert head["ContentType"] == "image/jpeg"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"filename": "a.svg", "content_type": "image/svg+xml", "size": 100}, "unsupported_media_type"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": 10 * 1024 * 1024 + 1}, "file_too_large"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": 0}, "invalid_request"),
        ({"filename": "a.jpg", "content_type": "image/jpeg"}, "invalid_request"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": 10, "key": "uploads/mine.jpg"}, "invalid_request"),
        ("{not json", "invalid_request"),
        ("", "invalid_request"),
    ],
    ids=["type", "size", "zero-size", "missing-size", "client-chosen-key", "malformed-json", "empty-body"],
)
def test_invalid_upload_requests_are_400_with_the_error_body_and_record_nothing(stack, call, load_event, body, code):
    response = call(with_body(load_event("create_upload"), body))

    assert_error(response, 400, code)
    assert header(response, "Access-Control-Allow-Origin") == WEB_ORIGIN  # the page can read the error
    assert pending_count(stack) == 0


def test_malformed_json_says_so(call, load_event):
    message = assert_error(call(with_body(load_event("create_upload"), "{not json")), 400, "invalid_request")

    assert "not valid JSON" in message


# --- GET /predictions/{image_id} -------------------------------------------------------------------


def test_get_prediction_of_a_fresh_upload_is_200_pending(call, load_event):
    image_id = response_json(call(load_event("create_upload")))["image_id"]

    response = call(for_image(load_event("get_prediction"), image_id))

    assert response["statusCode"] == 200
    view = response_json(response)
    assert (view["image_id"], view["status"], view["source"]) == (image_id, "pending", "upload")
    assert view["labels"] == [] and view["prediction"] is None


def test_get_prediction_of_an_unknown_image_is_404(call, load_event):
    assert_error(call(load_event("get_prediction")), 404, "image_not_found")


@pytest.mark.parametrize(("image_id", "code"), [("not-an-id", "invalid_image_id"), ("a" * 65, "invalid_request")])
def test_get_prediction_with_a_malformed_id_is_400(call, load_event, image_id, code):
    assert_error(call(for_image(load_event("get_prediction"), image_id)), 400, code)


def test_an_upload_that_never_arrived_is_reported_failed(stack, call, load_event):
    image_id = ids.new_image_id()
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    PredictionTable(stack.table("PredictionsTable")).create_pending(
        Prediction.pending(
            image_id,
            s3_key=f"uploads/{image_id}.jpg",
            source="upload",
            created_at=long_ago.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            upload_expires_at=(long_ago + timedelta(minutes=5))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        )
    )

    view = response_json(call(for_image(load_event("get_prediction"), image_id)))

    assert (view["status"], view["error"]["code"]) == ("failed", "upload_not_received")
    stored = stack.table("PredictionsTable").get_item(Key={"image_id": image_id})["Item"]
    assert (stored["status"], stored["error"]["code"]) == ("failed", "upload_not_received")


def test_an_expired_upload_whose_photo_arrived_stays_pending(stack, call, load_event):
    image_id = ids.new_image_id()
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    PredictionTable(stack.table("PredictionsTable")).create_pending(
        Prediction(
            image_id,
            "pending",
            s3_key=f"uploads/{image_id}.jpg",
            created_at=long_ago.isoformat().replace("+00:00", "Z"),
            upload_expires_at=(long_ago + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        )
    )
    stack.client("s3").put_object(Bucket=stack.bucket, Key=f"uploads/{image_id}.jpg", Body=b"\xff\xd8\xff")

    assert response_json(call(for_image(load_event("get_prediction"), image_id)))["status"] == "pending"


# --- GET /predictions?key= -------------------------------------------------------------------------


def test_find_prediction_by_key_returns_the_drop_folder_result(stack, call, load_event):
    event = load_event("find_prediction_by_key")
    key = event["queryStringParameters"]["key"]
    image_id = ids.image_id_for_key(key)
    PredictionTable(stack.table("PredictionsTable")).record_outcome(
        Prediction(image_id, "done", prediction="clog", score=0.8125, s3_key=key),
        "00674591F2E3D4C5B6A7",
        "2026-11-26T09:14:10.500Z",
    )

    response = call(event)

    assert response["statusCode"] == 200
    view = response_json(response)
    assert (view["image_id"], view["status"], view["prediction"], view["score"], view["s3_key"]) == (
        image_id,
        "done",
        "clog",
        0.8125,
        key,
    )


def test_find_prediction_by_key_before_classification_is_404(call, load_event):
    message = assert_error(call(load_event("find_prediction_by_key")), 404, "image_not_found")

    assert "incoming/summer sale/shoe(1).jpg" in message


def test_find_prediction_without_a_key_is_400(call, load_event):
    event = load_event("find_prediction_by_key")
    event["queryStringParameters"] = event["multiValueQueryStringParameters"] = None

    assert_error(call(event), 400, "missing_key")


def test_find_prediction_by_an_upload_key_is_400(call, load_event):
    event = load_event("find_prediction_by_key")
    key = f"uploads/{ids.new_image_id()}.jpg"
    event["queryStringParameters"] = {"key": key}
    event["multiValueQueryStringParameters"] = {"key": [key]}

    assert_error(call(event), 400, "invalid_key")


def test_an_unknown_route_is_404_with_the_error_body(call, load_event):
    event = load_event("get_prediction")
    event.update(resource="/nowhere", path="/nowhere", pathParameters=None)

    assert_error(call(event), 404, "route_not_found")
