"""Publication: the renditions shoppers may see, under one prefix the CDN serves (`published/<image_id>.jpg`).

The rule, in one place: a photo whose verdict is `allow` (the model's or a moderator's) has its judged version's
rendition published; any other outcome (`block`, `review`, a shopper's report, a failed or newer version judged
otherwise) unpublishes it. Unpublishing comes before the outcome that calls for it is stored (failing closed: a
photo is never published past a decision that hides it); publishing comes after an `allow` is stored.

On AWS the CloudFront distribution (template.yaml, origin access control) can read only `published/`; the display
gate answers with the CDN's URL. The CDN caches a published photo for at most PublishedMaxAgeSeconds, so a photo
blocked or reported after it was shown leaves the edge within that time.
"""

from typing import Any, Protocol

from photomod_shared import ids

PUBLISHED_PREFIX = "published/"
# Browsers and the CDN may keep a published photo this long; a block takes at most this long to show everywhere.
PUBLISHED_MAX_AGE_SECONDS = 60


def published_key(image_id: str) -> str:
    return f"{PUBLISHED_PREFIX}{image_id}.jpg"


class Publisher(Protocol):
    def publish(self, image_id: str, version_id: str | None) -> None: ...

    def unpublish(self, image_id: str) -> None: ...


class NoPublisher:
    """Where nothing is published (tests that do not look)."""

    def publish(self, image_id: str, version_id: str | None) -> None:
        pass

    def unpublish(self, image_id: str) -> None:
        pass


class PublishedRenditions:
    """Adapter over S3: copies a judged rendition to the published prefix, or deletes it from there."""

    def __init__(self, client: Any, bucket: str):
        self._client = client
        self._bucket = bucket

    def publish(self, image_id: str, version_id: str | None) -> None:
        self._client.copy_object(
            Bucket=self._bucket,
            Key=published_key(image_id),
            CopySource={"Bucket": self._bucket, "Key": ids.rendition_key(image_id, version_id)},
            MetadataDirective="REPLACE",
            ContentType="image/jpeg",
            CacheControl=f"public, max-age={PUBLISHED_MAX_AGE_SECONDS}",
        )

    def unpublish(self, image_id: str) -> None:
        # Deleting a key that is not there succeeds: unpublishing is idempotent.
        self._client.delete_object(Bucket=self._bucket, Key=published_key(image_id))
