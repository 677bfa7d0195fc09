"""Decisions that stick, end to end: once a version is judged and a moderator has decided on it, re-deliveries of
its notification and the reconciler's re-sends never judge it again; only a new version is judged anew.

The local model's verdicts depend on the classifier the stack runs, so the photo is classified through POST
/predict, then recorded in review and as judged from a re-send (a backlog) the way the classifier would have.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from photomod_shared.prediction import comparable_event_time, comparable_sequencer
from reconcile.service import StoredObject
from reconcile.storage import SYNTHETIC_SEQUENCER, ClassifyQueue
from tests.integration.helpers import (
    api_get,
    assert_error,
    prediction_item,
    send_to_classify_queue,
    wait_for_queue_drained,
)
from tests.integration.test_reviews_and_display import classified_photo, force_verdict, settle, show
from tests.support.events import s3_notification

pytestmark = pytest.mark.integration


def reconcilers_resend(stack, key: str, at: datetime) -> str:
    """The notification the reconciler sends for a photo that seems lost (its own code, from a HEAD of the key)."""
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key=key)
    photo = StoredObject(key, head["ContentLength"], head["ETag"].strip('"'), head["LastModified"], head["VersionId"])
    queue = ClassifyQueue(stack.client("sqs"), stack.queue_url("ClassifyQueue"), stack.bucket, "us-east-1")
    return json.dumps(queue.notification(photo, now=at))


def judged_from_a_resend(stack, image_id: str, at: datetime) -> None:
    """Records the photo's result as coming from a reconciler's re-send (a backlog over the reconcile threshold:
    the re-send was handled before the original notification)."""
    stack.table("PredictionsTable").update_item(
        Key={"image_id": image_id},
        UpdateExpression="SET #sequencer = :sequencer, #event_time = :event_time",
        ExpressionAttributeNames={"#sequencer": "sequencer", "#event_time": "event_time"},
        ExpressionAttributeValues={
            ":sequencer": comparable_sequencer(SYNTHETIC_SEQUENCER),
            ":event_time": comparable_event_time(at.isoformat()),
        },
    )


def test_a_moderators_block_survives_duplicate_notifications_and_resends_of_the_same_version(local_stack):
    # Given: a photo judged `review` from a re-send, re-sent again, then blocked by a moderator
    stack, now = local_stack, datetime.now(UTC)
    image_id = classified_photo(stack)
    item = prediction_item(stack, image_id)
    assert item["status"] == "done", item
    key, version = item["s3_key"], item["object_version"]
    original = s3_notification(
        stack.bucket, key, sequencer=item["sequencer"], event_time=item["event_time"], version_id=version, size=1
    )
    judged_from_a_resend(stack, image_id, now)
    force_verdict(stack, image_id, "review")
    send_to_classify_queue(stack, reconcilers_resend(stack, key, now + timedelta(minutes=1)))  # before the decision
    wait_for_queue_drained(stack)
    assert settle(stack, image_id, "block", note="swimwear").status_code == 200

    # When: the original notification is delivered again and the reconciler sends two more re-sends
    send_to_classify_queue(
        stack,
        original,
        reconcilers_resend(stack, key, now + timedelta(minutes=15)),
        reconcilers_resend(stack, key, now + timedelta(minutes=30)),
    )
    wait_for_queue_drained(stack)

    # Then: the moderator's block stands, on the version they saw
    item = prediction_item(stack, image_id)
    assert (item["verdict"], item["object_version"]) == ("block", version)
    assert item["moderation"]["decision"] == "block" and item["moderation"]["note"] == "swimwear"
    assert api_get(stack, f"/predictions/{image_id}").json()["verdict"] == "block"
    assert_error(show(stack, image_id), 403, "image_blocked")
