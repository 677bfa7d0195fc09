"""S3 event notifications as they arrive in SQS message bodies, read with Powertools' `S3Event` data class."""

import json
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event

from classify.events import MalformedNotification, PhotoEvent

S3_TEST_EVENT = "s3:TestEvent"


def photo_events(body: str) -> list[PhotoEvent]:
    """The ObjectCreated records in one message; S3's test event and other event types give none."""
    try:
        notification = json.loads(body)
    except (TypeError, ValueError) as error:
        raise MalformedNotification(f"message body is not JSON: {error}") from None
    if not isinstance(notification, dict):
        raise MalformedNotification("message body is not a JSON object")
    # S3 sends it once, when the bucket's notification is configured: nothing was uploaded.
    if notification.get("Event") == S3_TEST_EVENT:
        return []
    if not isinstance(notification.get("Records"), list):
        raise MalformedNotification("message body has no Records list")
    events = []
    for record in S3Event(notification).records:
        try:
            if not str(record.event_name).startswith("ObjectCreated:"):
                continue
            s3_object = record.s3.get_object
            events.append(
                PhotoEvent(
                    bucket=record.s3.bucket.name,
                    # S3 URL-encodes keys in notifications (spaces as '+').
                    key=unquote_plus(s3_object.key),
                    etag=str(s3_object.etag),
                    sequencer=str(s3_object.get("sequencer", "0")),
                    size=int(s3_object["size"]) if "size" in s3_object else 0,
                    version_id=_version_id(s3_object.version_id),
                    event_time=str(record.get("eventTime", "")),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise MalformedNotification(f"S3 record lacks {error}") from None
    return events


def _version_id(value: object) -> str | None:
    # An unversioned bucket's objects have the version "null" (or none at all): no version to pin.
    return str(value) if value not in (None, "", "null") else None
