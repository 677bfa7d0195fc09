"""photomod_shared.publication under moto: unpublishing a shown photo deletes it and invalidates its CDN path, one
CreateInvalidation for all the photos one call hides; a photo never published costs no invalidation."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from photomod_shared import ids
from photomod_shared.publication import (
    CloudFrontCache,
    NoCdn,
    PublishedRenditions,
    cdn_cache,
    published_key,
    settle_publication,
)

BUCKET = "photos"
SHOWN, ALSO_SHOWN, NEVER_SHOWN = "a" * 32, "b" * 32, "c" * 32


@pytest.fixture
def aws() -> Any:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        cloudfront = boto3.client("cloudfront", region_name="us-east-1")
        distribution = cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": "photos",
                "Comment": "published photos",
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "s3",
                            "DomainName": f"{BUCKET}.s3.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https"},
            }
        )["Distribution"]["Id"]
        yield s3, cloudfront, distribution


def invalidated_paths(cloudfront: Any, distribution: str) -> list[list[str]]:
    listed = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"].get("Items", [])
    return [
        cloudfront.get_invalidation(DistributionId=distribution, Id=item["Id"])["Invalidation"]["InvalidationBatch"][
            "Paths"
        ]["Items"]
        for item in listed
    ]


def shown(s3: Any, publisher: PublishedRenditions, image_id: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=ids.rendition_key(image_id, "v1"), Body=b"jpeg")
    publisher.publish(image_id, "v1")


def test_unpublishing_shown_photos_deletes_them_and_invalidates_their_paths_in_one_request(aws):
    s3, cloudfront, distribution = aws
    publisher = PublishedRenditions(s3, BUCKET, CloudFrontCache(cloudfront, distribution))
    shown(s3, publisher, SHOWN)
    shown(s3, publisher, ALSO_SHOWN)

    publisher.unpublish_many([SHOWN, ALSO_SHOWN, NEVER_SHOWN, SHOWN])

    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="published/")
    # One request, the paths browsers load (the distribution's root is the bucket), nothing for the unshown photo.
    assert invalidated_paths(cloudfront, distribution) == [
        [f"/{published_key(SHOWN)}", f"/{published_key(ALSO_SHOWN)}"]
    ]


def test_unpublishing_a_photo_never_published_invalidates_nothing(aws):
    s3, cloudfront, distribution = aws
    publisher = PublishedRenditions(s3, BUCKET, CloudFrontCache(cloudfront, distribution))

    publisher.unpublish(NEVER_SHOWN)

    assert invalidated_paths(cloudfront, distribution) == []


def test_settling_a_row_that_no_longer_allows_the_photo_hides_it_from_the_cdn(aws):
    s3, cloudfront, distribution = aws
    publisher = PublishedRenditions(s3, BUCKET, CloudFrontCache(cloudfront, distribution))
    shown(s3, publisher, SHOWN)

    settle_publication(SHOWN, None, publisher)

    assert invalidated_paths(cloudfront, distribution) == [[f"/{published_key(SHOWN)}"]]


def test_without_a_distribution_nothing_is_invalidated_because_nothing_is_cached():
    # The local stack resolves the distribution's id to "" (infra.template): no CDN, so no CloudFront client at all.
    assert isinstance(cdn_cache("", lambda: pytest.fail("no CloudFront client is needed locally")), NoCdn)
    assert isinstance(cdn_cache("E2EXAMPLE", lambda: object()), CloudFrontCache)
