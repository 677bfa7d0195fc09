"""The photo events the classifier works on: one object created in the images bucket (classify.notifications reads
them from S3 notifications)."""

from dataclasses import dataclass


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
