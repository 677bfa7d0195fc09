"""The classify function's handler under moto, end to end: real photos in the bucket, ResNet50 (untrained
weights, as ALLOW_UNTRAINED_WEIGHTS allows locally), results and verdicts in the predictions table.

Importing classify.app builds the model (a few seconds), so this module shares one mocked account and one
import; every test uses keys of its own.
"""

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from infra.local.sqs_source import sqs_event
from infra.paths import REPO_ROOT
from photomod_shared import ids
from photomod_shared.prediction import Prediction
from photomod_shared.prediction_table import from_dynamo
from photomod_shared.tables import PredictionTable
from tests.component.mocked import SAFETY_MODEL, MockedStack, mocked_stack
from tests.support.events import EMPTY_ETAG, s3_notification, s3_test_notification, sqs_event_for
from tests.support.metrics import emf_documents

DATA = REPO_ROOT.parent / "shared" / "data"
DOG = DATA / "dog.jpeg"
TABBY = DATA / "imagenet-samples" / "n02123045_tabby.JPEG"
GOLDEN_RETRIEVER = DATA / "imagenet-samples" / "n02099601_golden_retriever.JPEG"
BIKINI = DATA / "imagenet-samples" / "n02837789_bikini.JPEG"


@pytest.fixture(scope="module")
def stack() -> Iterator[MockedStack]:
    with mocked_stack() as mocked:
        yield mocked


@pytest.fixture(scope="module")
def classify_app(stack, served_model) -> Iterator[Any]:
    with stack.handler_module("ClassifyFunction") as module:
        yield module


@pytest.fixture
def forward_passes(classify_app, monkeypatch) -> list[tuple[int, ...]]:
    """The batch shapes the model is run on."""
    shapes: list[tuple[int, ...]] = []
    predict = classify_app.work.model.predict

    def counting_predict(batch):
        shapes.append(batch.shape)
        return predict(batch)

    monkeypatch.setattr(classify_app.work.model, "predict", counting_predict)
    return shapes


class Photos:
    """Puts photos in the mocked bucket and builds the SQS event S3 and Lambda would deliver for them."""

    def __init__(self, stack: MockedStack):
        self.stack = stack
        self.bodies: list[str] = []

    def put(self, key: str, data: bytes) -> str:
        response = self.stack.client("s3").put_object(
            Bucket=self.stack.bucket, Key=key, Body=data, ContentType="image/jpeg"
        )
        self.notify(key, response["ETag"].strip('"'), len(data), response["VersionId"])
        return key

    def notify(self, key: str, etag: str = EMPTY_ETAG, size: int = 0, version_id: str | None = None) -> str:
        self.bodies.append(s3_notification(self.stack.bucket, key, etag=etag, size=size, version_id=version_id))
        return key

    def event(self, *extra_bodies: str, receive_count: int = 1) -> dict[str, Any]:
        queue_arn = self.stack.template.arn("ClassifyQueue")
        return sqs_event_for([*self.bodies, *extra_bodies], queue_arn, receive_count=receive_count)


@pytest.fixture
def photos(stack) -> Photos:
    return Photos(stack)


def item(stack: MockedStack, key: str) -> dict[str, Any] | None:
    """The item as stored (the table's bookkeeping attributes included)."""
    table = stack.table("PredictionsTable")
    stored = table.get_item(Key={"image_id": ids.image_id_for_key(key)}, ConsistentRead=True).get("Item")
    return from_dynamo(stored) if stored else None


def run(classify_app, stack: MockedStack, event: dict[str, Any]) -> dict[str, Any]:
    return classify_app.lambda_handler(event, stack.context("ClassifyFunction"))


def test_photos_are_classified_in_one_pass_and_a_corrupt_one_fails(stack, classify_app, photos, forward_passes):
    # Given: a pending upload, two drop-folder photos and a broken file, all notified in one batch
    upload_key = ids.upload_key(ids.new_image_id(), "jpg")
    PredictionTable(stack.table("PredictionsTable")).create_pending(
        Prediction.pending(
            ids.image_id_for_key(upload_key), s3_key=upload_key, source="upload", created_at="2026-11-26T09:14:07.000Z"
        )
    )
    folder = f"incoming/{uuid.uuid4().hex[:8]} batch"
    photos.put(upload_key, DOG.read_bytes())
    tabby = photos.put(f"{folder}/tabby cat (1).JPEG", TABBY.read_bytes())
    retriever = photos.put(f"{folder}/golden+retriever.JPEG", GOLDEN_RETRIEVER.read_bytes())
    broken = photos.put(f"{folder}/broken.jpg", DOG.read_bytes()[:5000])
    s3_test_event = s3_test_notification()

    # When
    result = run(classify_app, stack, photos.event(s3_test_event))

    # Then
    assert result == {"batchItemFailures": []}
    assert forward_passes == [(3, 224, 224, 3)]
    for key in (upload_key, tabby, retriever):
        done = item(stack, key)
        assert done["status"] == "done", key
        assert done["s3_key"] == key
        assert len(done["labels"]) == 5
        assert done["prediction"] == done["labels"][0]["label"]
        assert 0.0 <= done["score"] <= 1.0
        assert done["verdict"] in ("allow", "review", "block")
        assert done["policy_version"] == classify_app.work.policy.version
        assert done["model"] == {"name": "ResNet50", "weights": "untrained"}
        assert done["error"] is None and done["classified_at"]
        if classify_app.work.safety is not None:
            assert done["safety"]["model"] == {"name": "nsfwjs-MobileNetV2", "version": "4.4.0"}
            assert sum(done["safety"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert item(stack, upload_key)["created_at"] == "2026-11-26T09:14:07.000Z"  # kept from the pending item
    assert (item(stack, upload_key)["source"], item(stack, tabby)["source"]) == ("upload", "drop-folder")
    failed = item(stack, broken)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "corrupt_image" and failed["error"]["message"]
    assert failed["model"] == {"name": "ResNet50", "weights": "untrained"}


def test_duplicate_delivery_of_a_batch_writes_nothing_new(stack, classify_app, photos, forward_passes):
    folder = f"incoming/{uuid.uuid4().hex[:8]}"
    keys = [
        photos.put(f"{folder}/dog.jpeg", DOG.read_bytes()),
        photos.put(f"{folder}/broken.jpg", b"\xff\xd8\xff\xe0 broken"),
    ]
    event = photos.event()
    assert run(classify_app, stack, event) == {"batchItemFailures": []}
    first = {key: item(stack, key) for key in keys}

    result = run(classify_app, stack, event)

    assert result == {"batchItemFailures": []}
    assert {key: item(stack, key) for key in keys} == first  # classified_at included: nothing was rewritten
    assert forward_passes == [(1, 224, 224, 3)]  # and no inference was spent on the redelivery


def test_a_photo_deleted_before_classification_fails_as_missing(stack, classify_app, photos):
    gone = photos.notify(f"incoming/{uuid.uuid4().hex[:8]}/deleted.jpg")

    assert run(classify_app, stack, photos.event()) == {"batchItemFailures": []}
    assert (item(stack, gone)["status"], item(stack, gone)["error"]["code"]) == ("failed", "object_missing")


def test_a_malformed_message_is_reported_for_retry(stack, classify_app, photos):
    key = photos.put(f"incoming/{uuid.uuid4().hex[:8]}/dog.jpeg", DOG.read_bytes())
    event = photos.event("this is not an S3 notification")

    result = run(classify_app, stack, event)

    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][-1]["messageId"]}]}
    assert item(stack, key)["status"] == "done"


def test_a_photo_dropped_in_incoming_reaches_the_queue_and_is_classified(stack, classify_app):
    """The template's bucket notification and queue, as provisioned, deliver what classify understands."""
    sqs = stack.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=stack.template.physical_name("ClassifyQueue"))["QueueUrl"]
    sqs.purge_queue(QueueUrl=queue_url)
    key = f"incoming/{uuid.uuid4().hex[:8]}/summer sale/shoe(1).jpg"

    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=DOG.read_bytes())
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    result = run(classify_app, stack, sqs_event(messages, stack.template.arn("ClassifyQueue"), "us-east-1"))

    assert len(messages) == 1
    assert result == {"batchItemFailures": []}
    assert (item(stack, key)["status"], item(stack, key)["s3_key"]) == ("done", key)


@pytest.mark.skipif(not SAFETY_MODEL.is_file(), reason="no converted safety model: `make models` builds it (node, npm)")
def test_each_photo_gets_both_models_in_one_pass_and_swimwear_is_reviewed_as_explicit(
    stack, classify_app, photos, forward_passes, monkeypatch
):
    # Given: the real nsfwjs MobileNetV2, converted, counting its forward passes
    safety_passes: list[tuple[int, ...]] = []
    predict = classify_app.work.safety.predict
    monkeypatch.setattr(
        classify_app.work.safety, "predict", lambda batch: safety_passes.append(batch.shape) or predict(batch)
    )
    folder = f"incoming/{uuid.uuid4().hex[:8]}"
    dog = photos.put(f"{folder}/dog.jpeg", DOG.read_bytes())
    bikini = photos.put(f"{folder}/bikini.jpeg", BIKINI.read_bytes())

    # When
    assert run(classify_app, stack, photos.event()) == {"batchItemFailures": []}

    # Then: one pass of each model over the batch, and both results stored side by side
    assert forward_passes == [(2, 224, 224, 3)] and safety_passes == [(2, 224, 224, 3)]
    dog_item, bikini_item = item(stack, dog), item(stack, bikini)
    assert len(dog_item["labels"]) == 5 and dog_item["safety"]["top_class"] == "neutral"
    # nsfwjs in Node on the same (rendition, reduced) pixels gives these within 1e-3: test_safety_model_parity
    assert dog_item["safety"]["probabilities"]["neutral"] == pytest.approx(0.970451, abs=1e-3)
    assert dog_item["verdict"] == "allow"
    assert bikini_item["safety"]["top_class"] == "sexy"
    assert bikini_item["safety"]["probabilities"]["sexy"] == pytest.approx(0.989517, abs=1e-3)
    assert bikini_item["verdict"] == "review"
    reasons = [
        (reason["category"], reason["action"], reason["label"], reason["wnid"])
        for reason in bikini_item["verdict_reasons"]
    ]
    assert ("explicit", "review", "sexy", None) in reasons


# --- judged bytes only ---------------------------------------------------------------------------------


def test_each_version_of_a_key_is_judged_on_its_own_bytes_and_recorded(stack, classify_app, photos):
    # Given: a photo, then the same key overwritten (a replayed presigned POST) before the first event is handled
    key = photos.put(f"incoming/{uuid.uuid4().hex[:8]}/photo.jpg", DOG.read_bytes())
    first_version = json.loads(photos.bodies[0])["Records"][0]["s3"]["object"]["versionId"]
    photos.put(key, b"\xff\xd8\xff\xe0 not a real jpeg")
    second_version = json.loads(photos.bodies[1])["Records"][0]["s3"]["object"]["versionId"]
    first_event, second_event = photos.event(), None
    first_event["Records"] = first_event["Records"][:1]

    # When: the first upload's notification is handled
    assert run(classify_app, stack, first_event) == {"batchItemFailures": []}

    # Then: its own bytes were judged (the dog, not the broken replacement), and the version is recorded
    judged = item(stack, key)
    assert (judged["status"], judged["object_version"]) == ("done", first_version)

    # When: the replacement's notification is handled, it is judged again on its own bytes
    second_event = photos.event()
    second_event["Records"] = second_event["Records"][1:]
    assert run(classify_app, stack, second_event) == {"batchItemFailures": []}
    rejudged = item(stack, key)
    assert (rejudged["status"], rejudged["object_version"]) == ("failed", second_version)
    assert rejudged["error"]["code"] == "corrupt_image"


# --- failure isolation --------------------------------------------------------------------------------


def test_a_redelivered_batch_is_classified_one_photo_at_a_time(stack, classify_app, photos, forward_passes):
    folder = f"incoming/{uuid.uuid4().hex[:8]}"
    keys = [photos.put(f"{folder}/{name}", path.read_bytes()) for name, path in (("a.jpg", DOG), ("b.jpg", TABBY))]
    event = photos.event(receive_count=2)

    assert run(classify_app, stack, event) == {"batchItemFailures": []}

    assert forward_passes == [(1, 224, 224, 3), (1, 224, 224, 3)]
    assert all(item(stack, key)["status"] == "done" and "solo_attempts" not in item(stack, key) for key in keys)


def forty_megapixel_jpeg() -> bytes:
    ramp = np.linspace(0, 255, 7744, dtype=np.float32)[None, :] * np.ones((5164, 1), np.float32)
    pixels = np.dstack([ramp, ramp[:, ::-1], np.full_like(ramp, 90)]).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def largest_sixteen_bit_png() -> bytes:
    ramp = np.linspace(0, 32767, 7744)[None, :] + np.linspace(0, 32767, 5164)[:, None]
    buffer = io.BytesIO()
    Image.fromarray(ramp.astype(np.uint16)).save(buffer, "PNG")
    return buffer.getvalue()


def test_the_largest_allowed_photos_are_classified_with_the_rest_of_their_batch(
    stack, classify_app, photos, forward_passes
):
    folder = f"incoming/{uuid.uuid4().hex[:8]}"
    keys = [
        photos.put(f"{folder}/40mp.jpg", forty_megapixel_jpeg()),
        photos.put(f"{folder}/40mp-16bit.png", largest_sixteen_bit_png()),
        photos.put(f"{folder}/dog.jpeg", DOG.read_bytes()),
    ]

    assert run(classify_app, stack, photos.event()) == {"batchItemFailures": []}

    assert forward_passes == [(3, 224, 224, 3)]
    assert [item(stack, key)["status"] for key in keys] == ["done"] * 3


# --- operators: metrics in the function's log --------------------------------------------------------


def metric_values(documents: list[dict[str, Any]], name: str) -> list[tuple[dict[str, str], list[float]]]:
    """(dimensions, values) of each document that carries metric `name` (EMF allows one value or a list)."""
    found = []
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "photomod"
            if name in [metric["Name"] for metric in directive["Metrics"]]:
                dimensions = {key: document[key] for group in directive["Dimensions"] for key in group}
                value = document[name]
                found.append((dimensions, value if isinstance(value, list) else [value]))
    return found


def test_a_batch_writes_emf_metrics_by_verdict_and_failure_reason(stack, classify_app, photos, capsys):
    folder = f"incoming/{uuid.uuid4().hex[:8]}"
    photos.put(f"{folder}/dog.jpeg", DOG.read_bytes())
    photos.put(f"{folder}/tabby.jpeg", TABBY.read_bytes())
    photos.put(f"{folder}/broken.jpg", b"\xff\xd8\xff\xe0 broken")
    capsys.readouterr()

    run(classify_app, stack, photos.event())

    documents = emf_documents(capsys.readouterr().out)
    classified = metric_values(documents, "PhotosClassified")
    assert sum(sum(values) for _, values in classified) == 2
    assert all(dimensions["verdict"] in ("allow", "review", "block") for dimensions, _ in classified)
    assert metric_values(documents, "PhotosFailed") == [({"service": "photomod", "reason": "corrupt_image"}, [1])]
    assert [values for _, values in metric_values(documents, "BatchSize")] == [[2]]
    [(_, inference_ms)] = metric_values(documents, "InferenceTime")
    assert len(inference_ms) == 1 and inference_ms[0] > 0
    [(_, end_to_end)] = metric_values(documents, "EndToEndTime")
    assert len(end_to_end) == 2 and all(value >= 0 for value in end_to_end)
