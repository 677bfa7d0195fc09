"""The reconcile function's handler under moto: nothing stays pending forever."""

import json
from datetime import timedelta
from typing import Any

import pytest

from photomod_shared import ids
from photomod_shared.clock import iso, utc_now
from photomod_shared.prediction import Prediction
from photomod_shared.prediction_table import PredictionTable

LATER = timedelta(hours=2)  # well past the template's threshold (ReconcilePendingAfterSeconds, 900 s)


@pytest.fixture
def reconcile(stack):
    with stack.handler_module("ReconcileFunction") as module:
        yield module


@pytest.fixture
def predictions(stack) -> PredictionTable:
    return PredictionTable(stack.table("PredictionsTable"))


def run_at(reconcile, stack, monkeypatch, moment) -> dict[str, Any]:
    monkeypatch.setattr(reconcile, "utc_now", lambda: moment)
    return reconcile.lambda_handler(scheduled_event(), stack.context("ReconcileFunction"))


def scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-29T08:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/photomod-ReconcileSweep"],
        "detail": {},
    }


def pending_upload(predictions: PredictionTable, created, expires_in_s: int = 300) -> str:
    image_id = ids.new_image_id()
    predictions.create_pending(
        Prediction.pending(
            image_id,
            s3_key=ids.upload_key(image_id, "jpg"),
            source=ids.SOURCE_UPLOAD,
            created_at=iso(created),
            upload_expires_at=iso(created + timedelta(seconds=expires_in_s)),
        )
    )
    return image_id


def stored(predictions: PredictionTable, image_id: str) -> dict[str, Any]:
    prediction = predictions.get(image_id)
    assert prediction is not None, image_id
    return prediction.to_item()


def queued_notifications(stack) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=stack.template.physical_name("ClassifyQueue"))["QueueUrl"]
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(json.loads(message["Body"]) for message in messages)
        bodies = [body for body in bodies if body.get("Event") != "s3:TestEvent"]  # sent when notifications are set


def test_an_upload_that_never_arrived_ends_failed_upload_not_received(stack, reconcile, predictions, monkeypatch):
    now = utc_now()
    image_id = pending_upload(predictions, created=now)

    report = run_at(reconcile, stack, monkeypatch, now + LATER)

    assert report["failed"] == {image_id: "upload_not_received"}
    item = stored(predictions, image_id)
    assert item["status"] == "failed" and item["error"]["code"] == "upload_not_received"
    assert queued_notifications(stack) == []


def test_a_photo_whose_notification_was_lost_is_queued_again(stack, reconcile, predictions, monkeypatch):
    # Given: the photo arrived, but its S3 notification never reached the classifier
    now = utc_now()
    image_id = pending_upload(predictions, created=now)
    key = ids.upload_key(image_id, "jpg")
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=b"\xff\xd8\xff photo bytes")
    queued_notifications(stack)  # the notification is lost

    report = run_at(reconcile, stack, monkeypatch, now + LATER)

    assert report["requeued"] == [image_id]
    (notification,) = queued_notifications(stack)
    (record,) = notification["Records"]
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == stack.bucket
    assert record["s3"]["object"]["key"] == key and record["s3"]["object"]["size"] == 15
    item = stored(predictions, image_id)
    assert item["status"] == "pending" and item["requeue_count"] == 1


def test_the_classifier_understands_the_requeued_notification(stack, reconcile, predictions, monkeypatch):
    from classify.models import photo_events

    now = utc_now()
    image_id = pending_upload(predictions, created=now)
    stack.client("s3").put_object(Bucket=stack.bucket, Key=ids.upload_key(image_id, "jpg"), Body=b"x")
    queued_notifications(stack)
    run_at(reconcile, stack, monkeypatch, now + LATER)

    (notification,) = queued_notifications(stack)
    (event,) = photo_events(json.dumps(notification))
    assert (event.bucket, event.key, event.size) == (stack.bucket, ids.upload_key(image_id, "jpg"), 1)


def test_a_photo_is_requeued_once_per_threshold_then_ends_failed(stack, reconcile, predictions, monkeypatch):
    now = utc_now()
    image_id = pending_upload(predictions, created=now)
    stack.client("s3").put_object(Bucket=stack.bucket, Key=ids.upload_key(image_id, "jpg"), Body=b"x")
    queued_notifications(stack)

    reports = [run_at(reconcile, stack, monkeypatch, now + LATER * step) for step in (1, 1, 2, 3, 4)]

    # Twice at the same moment: once only. Then once per threshold, up to MAX_REQUEUES (3), then failed.
    assert [report["requeued"] for report in reports] == [[image_id], [], [image_id], [image_id], []]
    assert reports[-1]["failed"] == {image_id: "not_classified"}
    assert stored(predictions, image_id)["error"]["code"] == "not_classified"


def test_recent_pending_photos_are_left_alone(stack, reconcile, predictions, monkeypatch):
    now = utc_now()
    pending_upload(predictions, created=now)

    report = run_at(reconcile, stack, monkeypatch, now + timedelta(seconds=60))

    assert report == {"requeued": [], "failed": {}, "created": []}


def test_a_finished_photo_is_never_touched(stack, reconcile, predictions, monkeypatch):
    now = utc_now()
    image_id = pending_upload(predictions, created=now)
    predictions.record_outcome(Prediction(image_id, "done", prediction="clog"), "0A", iso(now))

    report = run_at(reconcile, stack, monkeypatch, now + LATER)

    assert report == {"requeued": [], "failed": {}, "created": []}
    assert stored(predictions, image_id)["status"] == "done"


def test_a_drop_folder_photo_without_a_row_gets_one_and_is_queued(stack, reconcile, predictions, monkeypatch):
    key = "incoming/shop 42/lost notification.jpg"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=b"photo")
    queued_notifications(stack)  # the notification is lost

    report = run_at(reconcile, stack, monkeypatch, utc_now() + LATER)

    image_id = ids.image_id_for_key(key)
    assert report["created"] == [image_id]
    item = stored(predictions, image_id)
    assert (item["status"], item["s3_key"], item["source"]) == ("pending", key, "drop-folder")
    (notification,) = queued_notifications(stack)
    assert notification["Records"][0]["s3"]["object"]["key"] == "incoming/shop+42/lost+notification.jpg"


def test_a_drop_folder_photo_whose_object_is_gone_ends_failed_object_missing(
    stack, reconcile, predictions, monkeypatch
):
    key = "incoming/deleted.jpg"
    image_id = ids.image_id_for_key(key)
    now = utc_now()
    predictions.create_pending(Prediction.pending(image_id, s3_key=key, source="drop-folder", created_at=iso(now)))

    report = run_at(reconcile, stack, monkeypatch, now + LATER)

    assert report["failed"] == {image_id: "object_missing"}


def test_a_photo_the_reconciler_ends_failed_is_announced_on_the_verdict_bus(stack, reconcile, predictions, monkeypatch):
    # Given a shop's rule on the verdict bus sending to its queue
    events, sqs = stack.client("events"), stack.client("sqs")
    bus = stack.template.physical_name("VerdictBus")
    url = sqs.create_queue(QueueName="shop-verdicts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="shop", EventBusName=bus, EventPattern=json.dumps({"detail-type": ["Photo Failed"]}))
    events.put_targets(Rule="shop", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    now = utc_now()
    image_id = pending_upload(predictions, created=now)

    # When the reconciler ends the upload that never arrived
    run_at(reconcile, stack, monkeypatch, now + LATER)

    # Then its one final outcome is the shop's event, with the reason
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    detail = json.loads(message["Body"])["detail"]
    assert (detail["image_id"], detail["verdict"], detail["error"]["code"]) == (image_id, None, "upload_not_received")
