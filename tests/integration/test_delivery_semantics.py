"""S3 and SQS deliver at least once, late and out of order; the classifier must end every photo in the right
final state anyway. Notifications are sent to the classify queue directly, shaped as S3 writes them."""

from __future__ import annotations

import json
import time

import pytest

from photomod_shared.prediction import comparable_sequencer
from tests.integration.helpers import (
    DOG_PHOTO,
    NEWEST_SEQUENCER,
    OLDEST_SEQUENCER,
    SAMPLES_DIR,
    find_prediction,
    prediction_item,
    presign_upload,
    send_to_classify_queue,
    unique,
    wait_for_final,
    wait_for_key_final,
    wait_for_queue_drained,
    wait_until,
)
from tests.support.events import s3_notification

pytestmark = pytest.mark.integration


def _redrive(stack) -> tuple[int, int]:
    """The classify queue's visibility timeout (s) and maxReceiveCount, as its attributes say (the local
    stack's tests set 10 s and 3; a deployed stack keeps its own)."""
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url("ClassifyQueue"), AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
    )["Attributes"]
    return int(attributes["VisibilityTimeout"]), int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"])


def _drop(stack, key: str, data: bytes) -> dict:
    return stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=data, ContentType="image/jpeg")


def _wait_for_sequencer(stack, image_id: str, sequencer: str) -> dict:
    """The stored item once a result for exactly this S3 event has been written."""
    wanted = comparable_sequencer(sequencer)
    seen: list[dict | None] = []

    def written() -> dict | None:
        seen[:] = [prediction_item(stack, image_id)]
        item = seen[0]
        return item if item and item.get("sequencer") == wanted and item.get("status") != "pending" else None

    return wait_until(
        written, timeout_s=60, what=f"the result of event {sequencer} for {image_id}", last_seen=lambda: seen
    )


def test_duplicate_notifications_for_a_classified_object_change_nothing(local_stack) -> None:
    key = f"incoming/{unique('dup')}/photo.jpg"
    _drop(local_stack, key, DOG_PHOTO.read_bytes())
    # Given the photo's own notification, delivered and handled
    image_id = wait_for_key_final(local_stack, key)["image_id"]
    handled = prediction_item(local_stack, image_id)
    version = handled["object_version"]
    again = s3_notification(
        local_stack.bucket, key, sequencer=handled["sequencer"], event_time=handled["event_time"], version_id=version
    )

    # When the same notification is delivered again, twice (in one batch), and once more claiming a newer order
    # for the same version (as the reconciler's re-sends do, with a time of their own)
    send_to_classify_queue(local_stack, again, again)
    send_to_classify_queue(
        local_stack, s3_notification(local_stack.bucket, key, sequencer=NEWEST_SEQUENCER, version_id=version, size=1)
    )
    wait_for_queue_drained(local_stack)

    # Then the stored result is untouched
    item = prediction_item(local_stack, image_id)
    assert item["classified_at"] == handled["classified_at"]
    assert item["sequencer"] == handled["sequencer"]
    assert item["status"] == "done"


def test_late_notification_with_an_older_sequencer_keeps_the_newer_result(local_stack) -> None:
    key = f"incoming/{unique('late')}/photo.jpg"
    # Given version 1 (not a photo) was dropped and classified
    first = _drop(local_stack, key, b"version 1 is not a photo\n" * 10)
    assert wait_for_key_final(local_stack, key)["status"] == "failed"
    image_id = find_prediction(local_stack, key).json()["image_id"]

    # ... and version 2 (a photo) replaced it, and its notification was handled
    _drop(local_stack, key, DOG_PHOTO.read_bytes())
    send_to_classify_queue(local_stack, s3_notification(local_stack.bucket, key, sequencer=NEWEST_SEQUENCER))
    newer = _wait_for_sequencer(local_stack, image_id, NEWEST_SEQUENCER)
    assert newer["status"] == "done", newer

    # When version 1's notification arrives late
    late = s3_notification(local_stack.bucket, key, sequencer=OLDEST_SEQUENCER, size=250, etag=first["ETag"].strip('"'))
    send_to_classify_queue(local_stack, late)
    wait_for_queue_drained(local_stack)

    # Then the newer result stays
    item = prediction_item(local_stack, image_id)
    assert item["status"] == "done"
    assert item["sequencer"] == newer["sequencer"]
    assert item["classified_at"] == newer["classified_at"]
    assert item["prediction"] == newer["prediction"]


def test_notification_for_an_upload_that_is_not_in_the_bucket_fails_with_object_missing(local_stack) -> None:
    # Given an upload that was presigned but whose object is not in the bucket (never sent, or deleted)
    created = presign_upload(local_stack, "gone.jpg", "image/jpeg", 1000)
    key = created["upload"]["fields"]["key"]

    # When a notification for it arrives
    send_to_classify_queue(local_stack, s3_notification(local_stack.bucket, key, sequencer=NEWEST_SEQUENCER))

    # Then the photo ends failed, with the reason
    result = wait_for_final(local_stack, created["image_id"])
    assert result["status"] == "failed", result
    assert result["error"]["code"] == "object_missing"
    assert result["source"] == "upload"
    assert result["s3_key"] == key


def test_notification_naming_a_missing_bucket_is_retried_then_dead_lettered_and_marked_failed(local_stack) -> None:
    key = f"incoming/{unique('dlq')}/photo.jpg"
    missing_bucket = unique("photomod-no-such-bucket")
    visibility_timeout_s, max_receive_count = _redrive(local_stack)
    started = time.monotonic()

    # When a notification names a bucket that does not exist (an S3 error: the classifier retries it)
    send_to_classify_queue(local_stack, s3_notification(missing_bucket, key, sequencer=NEWEST_SEQUENCER))

    # Then, after maxReceiveCount receives, it reaches the dead-letter queue and the photo is marked failed
    result = wait_for_key_final(local_stack, key, timeout_s=3 * max_receive_count * visibility_timeout_s + 30)
    elapsed = time.monotonic() - started
    assert result["status"] == "failed", result
    assert result["error"]["code"] == "retries_exhausted", result["error"]
    assert result["source"] == "drop-folder"
    assert result["s3_key"] == key
    # ... which takes at least maxReceiveCount - 1 visibility timeouts: every receive but the last timed out
    assert elapsed >= (max_receive_count - 1) * visibility_timeout_s, f"marked failed after only {elapsed:.1f} s"
    wait_for_queue_drained(local_stack, "ClassifyDeadLetterQueue")


def test_s3_test_event_is_consumed_without_retries(local_stack) -> None:
    test_event = '{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-01-01T00:00:00.000Z","Bucket":"b"}'

    send_to_classify_queue(local_stack, test_event)

    # Drained before one visibility timeout: deleted at the first delivery, not left to reappear
    wait_for_queue_drained(local_stack, timeout_s=_redrive(local_stack)[0] - 2)


def test_batch_mixing_a_corrupt_photo_with_good_ones_classifies_the_good_ones(local_stack) -> None:
    run = unique("batch")
    photos = {
        f"incoming/{run}/dog.jpg": DOG_PHOTO.read_bytes(),
        f"incoming/{run}/tabby.jpg": (SAMPLES_DIR / "n02123045_tabby.JPEG").read_bytes(),
        f"incoming/{run}/corrupt.jpg": DOG_PHOTO.read_bytes()[: DOG_PHOTO.stat().st_size // 2],
        f"incoming/{run}/toaster.jpg": (SAMPLES_DIR / "n04442312_toaster.JPEG").read_bytes(),
        f"incoming/{run}/ram.jpg": (SAMPLES_DIR / "n02412080_ram.JPEG").read_bytes(),
    }
    corrupt = f"incoming/{run}/corrupt.jpg"
    for key, data in photos.items():
        _drop(local_stack, key, data)

    # When their notifications arrive together (one SendMessageBatch, so the event source can receive them as
    # one batch)
    send_to_classify_queue(
        local_stack,
        *(
            s3_notification(local_stack.bucket, key, sequencer=NEWEST_SEQUENCER, size=len(data))
            for key, data in photos.items()
        ),
    )

    # Then the good ones are done and the corrupt one failed (each version judged once: by this batch, or by its
    # own notification if that came first, the other then being a duplicate of the same version)
    for key in photos:
        result = wait_for_key_final(local_stack, key)
        if key == corrupt:
            assert result["status"] == "failed", result
            assert result["error"]["code"] == "corrupt_image"
        else:
            assert result["status"] == "done", result
            assert len(result["labels"]) == 5
    # ... and the worker goes on classifying
    after = f"incoming/{run}/after.jpg"
    _drop(local_stack, after, DOG_PHOTO.read_bytes())
    assert wait_for_key_final(local_stack, after)["status"] == "done"
