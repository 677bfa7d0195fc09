"""The dead-letter function's handler under moto: a notification that exhausted its retries ends its photo."""

import json
import sys
from typing import Any

import pytest

from photomod_shared.prediction import EventStamp, Prediction
from photomod_shared.publication import published_key
from photomod_shared.tables import PredictionTable

IMAGE_ID = "9f2c1e4b7a6d4c3e8b1a0f9e8d7c6b5a"  # the upload events/dead_letter_batch.json is about
SEQUENCER = "00674591F1A1B2C3D4"  # its notification's sequencer
EVENT_TIME = "2026-11-26T09:14:09.512Z"  # and time


@pytest.fixture
def dead_letters(stack):
    with stack.handler_module("DeadLetterFunction") as module:
        assert "classify.model" not in sys.modules  # it shares the image, not TensorFlow's start-up time
        yield module


@pytest.fixture
def predictions(stack) -> PredictionTable:
    return PredictionTable(stack.table("PredictionsTable"))


def run(dead_letters, stack, event: dict[str, Any]) -> dict[str, Any]:
    return dead_letters.lambda_handler(event, stack.context("DeadLetterFunction"))


def pending_upload(predictions: PredictionTable) -> None:
    predictions.create_pending(
        Prediction.pending(
            IMAGE_ID, s3_key=f"uploads/{IMAGE_ID}.jpg", source="upload", created_at="2026-11-26T09:14:07.000Z"
        )
    )


def test_a_pending_upload_is_marked_failed_with_retries_exhausted(stack, dead_letters, predictions, load_event):
    pending_upload(predictions)

    result = run(dead_letters, stack, load_event("dead_letter_batch"))

    assert result == {"batchItemFailures": []}
    prediction = predictions.get(IMAGE_ID)
    assert prediction is not None and prediction.status == "failed"
    assert prediction.error and prediction.error.code == "retries_exhausted" and prediction.error.message
    assert prediction.s3_key == f"uploads/{IMAGE_ID}.jpg" and prediction.source == "upload"
    assert prediction.created_at == "2026-11-26T09:14:07.000Z" and prediction.classified_at


def test_a_photo_classified_from_the_same_event_is_left_done(stack, dead_letters, predictions, load_event):
    # Given: a later delivery of the same notification succeeded before the copy in the dead-letter queue is read
    pending_upload(predictions)
    # The classifier recorded the version it read; the dead letter does not know it.
    predictions.record_outcome(
        Prediction(IMAGE_ID, "done", prediction="clog", classified_at="2026-11-26T09:15:00.000Z"),
        EventStamp(SEQUENCER, EVENT_TIME, "v1"),
        "x",
    )
    done = predictions.get(IMAGE_ID)

    result = run(dead_letters, stack, load_event("dead_letter_batch"))

    assert result == {"batchItemFailures": []}
    assert predictions.get(IMAGE_ID) == done


def test_a_result_from_an_older_upload_of_the_key_is_superseded(stack, dead_letters, predictions, load_event):
    predictions.record_outcome(
        Prediction(IMAGE_ID, "done", prediction="clog"), "00674591F0", "2026-11-26T09:00:00.000Z"
    )

    run(dead_letters, stack, load_event("dead_letter_batch"))

    assert getattr(predictions.get(IMAGE_ID), "status", None) == "failed"


def test_a_photo_never_seen_before_is_recorded_failed(stack, dead_letters, predictions, load_event):
    run(dead_letters, stack, load_event("dead_letter_batch"))

    prediction = predictions.get(IMAGE_ID)
    assert prediction and prediction.error and prediction.error.code == "retries_exhausted"


def test_dead_letters_that_are_not_s3_notifications_are_dropped(stack, dead_letters, load_event):
    event = load_event("dead_letter_batch")
    event["Records"][0]["body"] = "garbage"
    test_event = json.loads(load_event("classify_sqs_batch")["Records"][2]["body"])
    event["Records"].append({**event["Records"][0], "messageId": "second", "body": json.dumps(test_event)})

    result = run(dead_letters, stack, event)

    # Retrying cannot make them readable: they are logged, and deleted from the queue.
    assert result == {"batchItemFailures": []}
    assert stack.table("PredictionsTable").scan(Select="COUNT")["Count"] == 0


def test_a_dead_letter_that_cannot_be_recorded_stays_in_the_queue(stack, dead_letters, load_event, monkeypatch):
    def unavailable(*args, **kwargs):
        raise ConnectionError("dynamodb unreachable")

    monkeypatch.setattr(dead_letters.predictions, "record_outcome", unavailable)
    event = load_event("dead_letter_batch")

    result = run(dead_letters, stack, event)

    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def shown_published(stack) -> str:
    """An older upload of the photo was allowed and published (published/<image_id>.jpg)."""
    key = published_key(IMAGE_ID)
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=b"older version's rendition")
    return key


def published_keys(stack) -> list[str]:
    listed = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix="published/")
    return [item["Key"] for item in listed.get("Contents", [])]


def test_a_dead_lettered_newer_version_unpublishes_the_older_allowed_one(stack, dead_letters, predictions, load_event):
    # Given: the older upload was allowed and is shown; the newer one kept failing until the dead-letter queue
    predictions.record_outcome(
        Prediction(IMAGE_ID, "done", prediction="clog", verdict="allow"), "00674591F0", "2026-11-26T09:00:00.000Z"
    )
    shown_published(stack)

    result = run(dead_letters, stack, load_event("dead_letter_batch"))

    # Then: the photo is failed (as the API reports it) and shoppers can no longer load the older version
    assert result == {"batchItemFailures": []}
    assert getattr(predictions.get(IMAGE_ID), "status", None) == "failed"
    assert published_keys(stack) == []


def test_a_photo_allowed_from_the_same_event_after_all_stays_published(stack, dead_letters, predictions, load_event):
    predictions.record_outcome(
        Prediction(IMAGE_ID, "done", prediction="clog", verdict="allow", classified_at="2026-11-26T09:15:00.000Z"),
        EventStamp(SEQUENCER, EVENT_TIME, "v1"),
        "x",
    )
    key = shown_published(stack)

    run(dead_letters, stack, load_event("dead_letter_batch"))

    assert getattr(predictions.get(IMAGE_ID), "verdict", None) == "allow" and published_keys(stack) == [key]


def test_a_dead_letter_whose_photo_cannot_be_unpublished_stays_in_the_queue(
    stack, dead_letters, predictions, load_event, monkeypatch
):
    predictions.record_outcome(
        Prediction(IMAGE_ID, "done", prediction="clog", verdict="allow"), "00674591F0", "2026-11-26T09:00:00.000Z"
    )
    shown_published(stack)

    def unreachable(image_ids):
        raise ConnectionError("s3 unreachable")

    event = load_event("dead_letter_batch")
    monkeypatch.setattr(dead_letters.publisher, "unpublish_many", unreachable)
    assert run(dead_letters, stack, event) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]
    }
    monkeypatch.undo()

    # The retry finds the failure already recorded and still hides the photo.
    assert run(dead_letters, stack, event) == {"batchItemFailures": []}
    assert getattr(predictions.get(IMAGE_ID), "status", None) == "failed" and published_keys(stack) == []
