"""Only judged bytes are ever shown, over real HTTP: the replayed presigned POST attack.

A presigned POST stays valid until it expires, so a shopper can upload a harmless photo, wait for `allow`, then
POST other bytes to the same key. The bucket is versioned: the gate and the review queue serve the rendition of
the version the verdict was given for, and the new bytes are judged on their own before they can be shown.
"""

import time

import pytest
import requests

from tests.integration.helpers import (
    DOG_PHOTO,
    HTTP_TIMEOUT_S,
    SAMPLES_DIR,
    api_get,
    api_post,
    assert_error,
    post_to_s3,
    prediction_item,
    rendition_version,
    shows_photo,
    unique,
    upload_photo,
    wait_for_final,
    wait_until,
)
from tests.integration.test_reviews_and_display import force_verdict, moderator, show

pytestmark = pytest.mark.integration

REPLACEMENT = SAMPLES_DIR / "n02123045_tabby.JPEG"
JUDGING_TIMEOUT_S = 60


def served_bytes(stack, image_id: str) -> tuple[bytes | None, str | None]:
    """What the display gate serves now: (the upload it shows, judged version in the URL), or (None, None) when
    it refuses. The gate serves renditions, so which upload they show is told by their pixels."""
    reply = show(stack, image_id)
    if reply.status_code != 302:
        assert reply.status_code in (403, 409), reply.text
        return None, None
    location = reply.headers["Location"]
    photo = requests.get(location, timeout=HTTP_TIMEOUT_S)
    assert photo.status_code == 200, photo.text
    assert photo.headers["Content-Type"] == "image/jpeg"
    for uploaded in (DOG_PHOTO.read_bytes(), REPLACEMENT.read_bytes()):
        if shows_photo(photo.content, uploaded):
            return uploaded, rendition_version(location)
    return photo.content, rendition_version(location)


def test_a_replayed_upload_is_never_shown_before_it_is_judged_allow(local_stack):
    # Given: a harmless photo, uploaded through a presigned POST, classified and allowed
    original = DOG_PHOTO.read_bytes()
    replacement = REPLACEMENT.read_bytes()
    created = upload_photo(local_stack, original, f"{unique()}.jpg")
    image_id = created["image_id"]
    first = wait_for_final(local_stack, image_id)
    assert first["status"] == "done" and first["object_version"]
    force_verdict(local_stack, image_id, "allow")
    assert served_bytes(local_stack, image_id)[0] == original

    # When: the same presigned POST is replayed with other bytes
    replayed = post_to_s3(created["upload"], replacement, "other.jpg", "image/jpeg")
    assert replayed.status_code in (200, 201, 204), replayed.text

    # Then: until the new version is judged, the gate serves only the judged bytes
    observations = []

    def judged_again() -> dict | None:
        body, version = served_bytes(local_stack, image_id)
        item = prediction_item(local_stack, image_id)
        observations.append((version, item["object_version"], item.get("verdict")))
        if body == replacement:
            # Served only once judged: as the version the row now names, with its own verdict.
            assert item["object_version"] != first["object_version"], f"unjudged bytes served: {observations}"
            assert version == item["object_version"] and item["verdict"] == "allow", observations
        else:
            assert body in (original, None), "the gate served bytes that were never uploaded"
            if body == original:
                assert version == first["object_version"], observations
        return item if item["object_version"] != first["object_version"] else None

    started = time.monotonic()
    rejudged = wait_until(judged_again, timeout_s=JUDGING_TIMEOUT_S, what="the replayed upload to be judged")
    print(f"replayed upload judged {time.monotonic() - started:.1f} s after the replay")

    # And once it is judged, its own verdict decides what the gate does with it
    assert rejudged["status"] == "done"
    body, version = served_bytes(local_stack, image_id)
    if rejudged["verdict"] == "allow":
        assert (body, version) == (replacement, rejudged["object_version"])
    else:
        assert body is None
    # The API reports the version it judged
    assert api_get(local_stack, f"/predictions/{image_id}").json()["object_version"] == rejudged["object_version"]


def test_a_replayed_upload_judged_block_is_not_shown_and_the_old_one_is_gone_too(local_stack):
    created = upload_photo(local_stack, DOG_PHOTO.read_bytes(), f"{unique()}.jpg")
    image_id = created["image_id"]
    first = wait_for_final(local_stack, image_id)
    force_verdict(local_stack, image_id, "allow")

    post_to_s3(created["upload"], REPLACEMENT.read_bytes(), "other.jpg", "image/jpeg")
    rejudged = wait_until(
        lambda: (
            (item := prediction_item(local_stack, image_id))["object_version"] != first["object_version"]
            and item["status"] != "pending"
            and item
        ),
        timeout_s=JUDGING_TIMEOUT_S,
        what="the replayed upload to be judged",
    )
    force_verdict(local_stack, image_id, "block")  # what a weapon photo would get

    assert rejudged["object_version"] != first["object_version"]
    assert_error(show(local_stack, image_id), 403, "image_blocked")


def test_a_moderator_decision_on_a_replaced_version_is_refused(local_stack):
    # Given: a photo in review, seen by a moderator at its judged version
    created = upload_photo(local_stack, DOG_PHOTO.read_bytes(), f"{unique()}.jpg")
    image_id = created["image_id"]
    seen = wait_for_final(local_stack, image_id)["object_version"]
    force_verdict(local_stack, image_id, "review")
    # When: the photo is replaced and judged again before the moderator decides
    post_to_s3(created["upload"], REPLACEMENT.read_bytes(), "other.jpg", "image/jpeg")
    wait_until(
        lambda: prediction_item(local_stack, image_id)["object_version"] != seen,
        timeout_s=JUDGING_TIMEOUT_S,
        what="the replacement to be judged",
    )
    force_verdict(local_stack, image_id, "review")

    reply = api_post(
        local_stack,
        f"/reviews/{image_id}",
        json={"decision": "allow", "object_version": seen},
        headers=moderator(local_stack),
    )

    # Then: the decision does not apply to bytes the moderator never saw
    assert_error(reply, 409, "version_changed")
    assert prediction_item(local_stack, image_id)["verdict"] == "review"
    force_verdict(local_stack, image_id, "block")  # leave nothing in the shared review queue
