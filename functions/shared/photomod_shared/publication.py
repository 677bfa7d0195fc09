"""Publication: the renditions shoppers may see, under one prefix the CDN serves (`published/<image_id>.jpg`).

The rule, in one place: a photo whose verdict is `allow` (the model's or a moderator's) has its judged version's
rendition published; any other outcome (`block`, `review`, a shopper's report, a failed or newer version judged
otherwise) unpublishes it. Unpublishing comes before the outcome that calls for it is stored (failing closed: a
photo is never published past a decision that hides it). An `allow` (the classifier's or a moderator's) is published
before it is stored too, so a failed publish leaves nothing stored and is retried (SQS redelivers the notification, a
moderator decides again): an `allow` on record is published; where the store then refuses the outcome (a newer one,
another moderator's), `settle_publication` makes the bucket follow the stored row.

On AWS the CloudFront distribution (template.yaml, origin access control) can read only `published/`; the display
gate answers with the CDN's URL. Unpublishing a photo that was published deletes it and then asks CloudFront to
invalidate its path (one CreateInvalidation for all the photos one call unpublishes); the edge's cache time
(PUBLISHED_MAX_AGE_SECONDS) bounds the window even when an invalidation is slow or fails, and browsers that already
loaded the photo keep it for that long (no invalidation reaches them): docs/deploy.md#serving-photos. The local
stack runs no CDN (its distribution id is empty): there is nothing cached to invalidate, so nothing is called.
"""

import uuid
from collections.abc import Callable
from typing import Any, Protocol

from photomod_shared import ids
from photomod_shared.prediction import VERDICT_ALLOW, Prediction

PUBLISHED_PREFIX = "published/"
# Browsers and the CDN may keep a published photo this long; a block takes at most this long to show everywhere.
PUBLISHED_MAX_AGE_SECONDS = 60


def published_key(image_id: str) -> str:
    return f"{PUBLISHED_PREFIX}{image_id}.jpg"


def cdn_path(image_id: str) -> str:
    """The path shoppers' browsers request from the CDN (and the one to invalidate)."""
    return f"/{published_key(image_id)}"


class Publisher(Protocol):
    def publish(self, image_id: str, version_id: str | None) -> None: ...

    def unpublish(self, image_id: str) -> None: ...

    def unpublish_many(self, image_ids: list[str]) -> None: ...


class NoPublisher:
    """Where nothing is published (tests that do not look)."""

    def publish(self, image_id: str, version_id: str | None) -> None:
        pass

    def unpublish(self, image_id: str) -> None:
        pass

    def unpublish_many(self, image_ids: list[str]) -> None:
        pass


def may_be_shown(stored: Prediction | None) -> bool:
    """The rule: a stored row lets shoppers see its judged version's rendition only when its verdict is `allow`."""
    return stored is not None and stored.is_done and stored.verdict == VERDICT_ALLOW


def settle_publication(image_id: str, stored: Prediction | None, publisher: Publisher) -> None:
    """Makes what shoppers may see follow the stored row: its judged version's rendition or nothing."""
    if stored is not None and may_be_shown(stored):
        publisher.publish(image_id, stored.object_version)
    else:
        publisher.unpublish(image_id)


class CdnCache(Protocol):
    def invalidate(self, paths: list[str]) -> None: ...


class NoCdn:
    """The local stack: no distribution, so nothing is cached and nothing needs invalidating."""

    def invalidate(self, paths: list[str]) -> None:
        pass


class CloudFrontCache:
    """Adapter over CloudFront: invalidates paths of the photos distribution, many in one request."""

    # CloudFront takes at most 3,000 file paths in progress per distribution; one request never nears it here.
    MAX_PATHS_PER_REQUEST = 1000

    def __init__(self, client: Any, distribution_id: str):
        self._client = client
        self._distribution_id = distribution_id

    def invalidate(self, paths: list[str]) -> None:
        unique = list(dict.fromkeys(paths))
        for start in range(0, len(unique), self.MAX_PATHS_PER_REQUEST):
            chunk = unique[start : start + self.MAX_PATHS_PER_REQUEST]
            self._client.create_invalidation(
                DistributionId=self._distribution_id,
                InvalidationBatch={
                    "Paths": {"Quantity": len(chunk), "Items": chunk},
                    "CallerReference": uuid.uuid4().hex,  # each unpublish is a new request, never a replay
                },
            )


def cdn_cache(distribution_id: str | None, client: Callable[[], Any]) -> CdnCache:
    """CloudFront where the stack has a distribution (AWS); nothing to invalidate where it has none (locally)."""
    return CloudFrontCache(client(), distribution_id) if distribution_id else NoCdn()


class PublishedRenditions:
    """Adapter over S3: copies a judged rendition to the published prefix, or deletes it from there (and then
    has the CDN drop its cached copy)."""

    def __init__(self, client: Any, bucket: str, cdn: CdnCache | None = None):
        self._client = client
        self._bucket = bucket
        self._cdn = cdn or NoCdn()

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
        self.unpublish_many([image_id])

    def unpublish_many(self, image_ids: list[str]) -> None:
        """Deletes each photo's published copy, then invalidates the CDN paths of those that were there: a photo
        never published (most blocks) costs no invalidation."""
        published = [image_id for image_id in dict.fromkeys(image_ids) if self._is_published(image_id)]
        for image_id in published:
            self._client.delete_object(Bucket=self._bucket, Key=published_key(image_id))
        if published:
            self._cdn.invalidate([cdn_path(image_id) for image_id in published])

    def _is_published(self, image_id: str) -> bool:
        # A listing, not HeadObject: its permission can be limited to published/ (s3:prefix), and it tells a key
        # that is not there from one that may not be read.
        key = published_key(image_id)
        listed = self._client.list_objects_v2(Bucket=self._bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in listed.get("Contents", []))
