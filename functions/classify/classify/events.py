"""S3 event notifications as they arrive in SQS message bodies."""

import json
from dataclasses import dataclass
from urllib.parse import unquote_plus


class MalformedNotification(ValueError):
    """A message body that is not an S3 event notification."""


@dataclass(frozen=True)
class PhotoEvent:
    """One object created in the images bucket."""

    bucket: str
    key: str
    etag: str
    sequencer: str
    size: int
    # S3 names the version in a versioned bucket; the classifier judges exactly that one.
    version_id: str | None = None
    event_time: str = ""


def photo_events(body: str) -> list[PhotoEvent]:
    """The ObjectCreated records in one message; S3's test event and other event types give none."""
    try:
        notification = json.loads(body)
    except (TypeError, ValueError) as error:
        raise MalformedNotification(f"message body is not JSON: {error}") from None
    if not isinstance(notification, dict):
        raise MalformedNotification("message body is not a JSON object")
    if notification.get("Event") == "s3:TestEvent":
        return []
    records = notification.get("Records")
    if not isinstance(records, list):
        raise MalformedNotification("message body has no Records list")
    events = []
    for record in records:
        try:
            if not str(record["eventName"]).startswith("ObjectCreated:"):
                continue
            s3 = record["s3"]
            events.append(
                PhotoEvent(
                    bucket=s3["bucket"]["name"],
                    # S3 URL-encodes keys in notifications (spaces as '+').
                    key=unquote_plus(s3["object"]["key"]),
                    etag=str(s3["object"].get("eTag", "")),
                    sequencer=str(s3["object"].get("sequencer", "0")),
                    size=int(s3["object"].get("size", 0)),
                    version_id=_version_id(s3["object"].get("versionId")),
                    event_time=str(record.get("eventTime", "")),
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedNotification(f"S3 record lacks {error}") from None
    return events


def _version_id(value: object) -> str | None:
    # An unversioned bucket's objects have the version "null" (or none at all): no version to pin.
    return str(value) if value not in (None, "", "null") else None
