"""POST /predict over real HTTP: the original service's integration test, against the local stack.

The label depends on the classifier the stack runs (EfficientNet-Lite0 locally without ResNet50's weights, and
ResNet50's golden pair `Eskimo_dog` 0.9346 only with its weights): these tests check the contract (status, exactly
three keys, their types), not the value; tests/integration/test_judgement.py judges the values.
"""

import pytest
import requests

from tests.integration.helpers import DOG_PHOTO, api_get, assert_gateway_error, unique

pytestmark = pytest.mark.integration

# Longer than PredictWaitSeconds (20 s by default): /predict answers within it.
PREDICT_TIMEOUT_S = 40
FAILURE_BODY = {"success": False, "prediction": None, "score": None}


def post_predict(stack, **kwargs) -> requests.Response:
    return requests.post(f"{stack.api_url}/predict", timeout=PREDICT_TIMEOUT_S, **kwargs)


def assert_prediction_body(reply: requests.Response) -> dict:
    assert reply.status_code == 200, f"{reply.status_code} {reply.headers} {reply.text}"
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"success", "prediction", "score"}, body
    assert body["success"] is True
    assert isinstance(body["prediction"], str) and body["prediction"]
    assert isinstance(body["score"], int | float) and not isinstance(body["score"], bool)
    assert 0 <= body["score"] <= 1 and round(body["score"], 4) == body["score"]
    return body


def test_predict_with_the_dog_photo_answers_200_with_exactly_success_prediction_score(local_stack):
    with DOG_PHOTO.open("rb") as photo:
        reply = post_predict(local_stack, files={"file": ("dog.jpeg", photo, "image/jpeg")})

    body = assert_prediction_body(reply)
    # The asynchronous record behind it is where the Location header points.
    image_id = reply.headers["X-Image-Id"]
    assert reply.headers["Location"] == f"{local_stack.api_url}/predictions/{image_id}"
    stored = requests.get(reply.headers["Location"], timeout=15).json()
    assert (stored["status"], stored["prediction"], stored["score"]) == ("done", body["prediction"], body["score"])
    assert stored["s3_key"] == f"uploads/{image_id}.jpg" and stored["source"] == "upload"


def test_predict_takes_the_photo_as_a_raw_image_body(local_stack):
    reply = post_predict(local_stack, data=DOG_PHOTO.read_bytes(), headers={"Content-Type": "image/jpeg"})

    assert_prediction_body(reply)


def test_predict_without_a_file_is_400_with_the_original_failure_body(local_stack):
    reply = post_predict(local_stack, files={"comment": (None, "no photo here")})

    assert reply.status_code == 400
    assert reply.json() == FAILURE_BODY
    assert reply.headers["X-Error-Code"] == "missing_file"


def test_predict_with_an_empty_filename_is_400(local_stack):
    # What a browser sends for a form whose file input was left empty.
    reply = post_predict(local_stack, files={"file": ("", b"", "application/octet-stream")})

    assert reply.status_code == 400
    assert reply.json() == FAILURE_BODY


def test_predict_with_a_text_file_is_400(local_stack):
    reply = post_predict(local_stack, files={"file": (f"{unique()}.txt", b"not a photo\n", "text/plain")})

    assert reply.status_code == 400
    assert reply.json() == FAILURE_BODY
    assert reply.headers["X-Error-Code"] == "unsupported_media_type"


def test_predict_with_a_photo_the_classifier_cannot_decode_is_400_with_its_reason(local_stack):
    # JPEG magic bytes, then nothing a decoder can use: refused by the classifier, not by /predict.
    broken = b"\xff\xd8\xff\xe0" + b"\x00" * 2048

    reply = post_predict(local_stack, files={"file": ("broken.jpg", broken, "image/jpeg")})

    assert reply.status_code == 400, reply.text
    assert reply.json() == FAILURE_BODY
    assert reply.headers["X-Error-Code"] == "corrupt_image"
    assert requests.get(reply.headers["Location"], timeout=15).json()["status"] == "failed"


def test_get_predict_is_405_allowing_post(local_stack):
    reply = api_get(local_stack, "/predict")

    assert reply.status_code == 405
    assert reply.headers["Allow"] == "POST"
    assert reply.json() == FAILURE_BODY


def test_predict_over_api_gateways_10_mb_limit_is_413(local_stack):
    too_big = b"\xff\xd8\xff\xe0" + bytes(10 * 1024 * 1024)

    reply = post_predict(local_stack, data=too_big, headers={"Content-Type": "image/jpeg"})

    assert_gateway_error(reply, 413, "Request Too Long")


def test_the_web_page_may_read_the_predict_headers(local_stack):
    reply = post_predict(
        local_stack,
        files={"file": ("notes.txt", b"text", "text/plain")},
        headers={"Origin": local_stack.web_origin},
    )

    assert reply.headers["Access-Control-Allow-Origin"] == local_stack.web_origin
    exposed = {name.strip().lower() for name in reply.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"location", "x-image-id", "x-error-code"} <= exposed
