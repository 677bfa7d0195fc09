"""The display gate and the moderators' review queue over real HTTP.

The local model's verdicts depend on the classifier the stack runs, so each test classifies a real photo through
POST /predict, then sets the verdict it needs in DynamoDB the way the classifier would have recorded it.
"""

from typing import Any

import pytest
import requests

from photomod_shared.prediction_table import REVIEW_QUEUE_ATTRIBUTE, REVIEW_QUEUE_PARTITION
from tests.integration.helpers import (
    DOG_PHOTO,
    HTTP_TIMEOUT_S,
    api_get,
    api_post,
    assert_error,
    prediction_item,
    presign_upload,
    rendition_version,
    shows_photo,
    unique,
)

pytestmark = pytest.mark.integration

PREDICT_TIMEOUT_S = 40


def classified_photo(stack, data: bytes | None = None) -> str:
    """A photo through POST /predict, classified (done or failed); returns its image id."""
    data = DOG_PHOTO.read_bytes() if data is None else data
    reply = requests.post(
        f"{stack.api_url}/predict", files={"file": (f"{unique()}.jpg", data, "image/jpeg")}, timeout=PREDICT_TIMEOUT_S
    )
    assert reply.status_code in (200, 400), f"{reply.status_code} {reply.text}"
    return reply.headers["X-Image-Id"]


def force_verdict(stack, image_id: str, verdict: str, classified_at: str | None = None) -> None:
    """Records `verdict` as the classifier would: a `review` verdict also puts the photo in the review queue."""
    names = {"#verdict": "verdict", "#queue": REVIEW_QUEUE_ATTRIBUTE}
    values: dict[str, Any] = {":verdict": verdict}
    assignments = ["#verdict = :verdict"]
    if classified_at:
        names["#classified_at"] = "classified_at"
        values[":classified_at"] = classified_at
        assignments.append("#classified_at = :classified_at")
    if verdict == "review":
        values[":queue"] = REVIEW_QUEUE_PARTITION
        expression = "SET " + ", ".join(assignments + ["#queue = :queue"])
    else:
        expression = "SET " + ", ".join(assignments) + " REMOVE #queue"
    stack.table("PredictionsTable").update_item(
        Key={"image_id": image_id},
        UpdateExpression=expression,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def show(stack, image_id: str) -> requests.Response:
    return api_get(stack, f"/images/{image_id}", allow_redirects=False)


def moderator(stack) -> dict[str, str]:
    return stack.staff("moderators").headers


def list_reviews(stack, **params: Any) -> requests.Response:
    return api_get(stack, "/reviews", params=params, headers=moderator(stack))


def settle(stack, image_id: str, decision: str, note: str = "", headers: dict[str, str] | None = None):
    """A moderator's decision on the version they were shown (the one the queue lists)."""
    item = prediction_item(stack, image_id) or {}
    return api_post(
        stack,
        f"/reviews/{image_id}",
        json={"decision": decision, "note": note, "object_version": item.get("object_version") or "unknown"},
        headers=moderator(stack) if headers is None else headers,
    )


# ---------------------------------------------------------------------------- display gate


def test_an_allowed_photo_redirects_to_a_short_lived_url_of_its_rendition(local_stack):
    image_id = classified_photo(local_stack)
    force_verdict(local_stack, image_id, "allow")

    reply = show(local_stack, image_id)

    assert reply.status_code == 302, reply.text
    assert "X-Amz-Expires=60" in reply.headers["Location"]
    assert reply.headers["Cache-Control"] == "no-store"
    photo = requests.get(reply.headers["Location"], timeout=HTTP_TIMEOUT_S)
    assert photo.status_code == 200 and shows_photo(photo.content, DOG_PHOTO.read_bytes())


@pytest.mark.parametrize(("verdict", "code"), [("block", "image_blocked"), ("review", "image_in_review")])
def test_a_blocked_or_in_review_photo_is_403(local_stack, verdict, code):
    image_id = classified_photo(local_stack)
    force_verdict(local_stack, image_id, verdict)

    assert_error(show(local_stack, image_id), 403, code)


def test_a_photo_not_classified_yet_is_409(local_stack):
    # Presigned but never uploaded: pending for as long as the test looks.
    created = presign_upload(local_stack, f"{unique()}.jpg", "image/jpeg", 1024)

    assert_error(show(local_stack, created["image_id"]), 409, "image_pending")


def test_a_photo_that_failed_classification_is_409(local_stack):
    image_id = classified_photo(local_stack, b"\xff\xd8\xff\xe0" + bytes(2048))
    assert prediction_item(local_stack, image_id)["status"] == "failed"

    assert_error(show(local_stack, image_id), 409, "image_failed")


def test_an_unknown_photo_is_404(local_stack):
    assert_error(show(local_stack, "0" * 32), 404, "image_not_found")


# ---------------------------------------------------------------------------- signed-in moderators
# (who may call the staff routes at all: tests/integration/test_staff_access.py)


def test_the_review_queue_answers_200_to_a_signed_in_moderator(local_stack):
    reply = list_reviews(local_stack, limit=1)

    assert reply.status_code == 200, reply.text
    assert set(reply.json()) == {"items", "next_cursor"}


def test_a_browsers_preflight_of_the_review_queue_needs_no_token(local_stack):
    reply = requests.options(
        f"{local_stack.api_url}/reviews",
        headers={
            "Origin": local_stack.web_origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=HTTP_TIMEOUT_S,
    )

    assert reply.status_code == 200
    assert "Authorization" in reply.headers["Access-Control-Allow-Headers"]


# ---------------------------------------------------------------------------- review queue


@pytest.fixture
def photos_in_review(local_stack) -> list[str]:
    """Three photos in review, newest last; dated in the future so they head the queue during this test."""
    image_ids = [classified_photo(local_stack) for _ in range(3)]
    for second, image_id in enumerate(image_ids):
        force_verdict(local_stack, image_id, "review", classified_at=f"2999-01-01T00:00:0{second}.000Z")
    yield image_ids
    for image_id in image_ids:  # leave no future-dated photo at the head of the queue
        force_verdict(local_stack, image_id, "block")


def test_the_queue_lists_photos_in_review_newest_first_in_pages(local_stack, photos_in_review):
    first = list_reviews(local_stack, limit=2)
    assert first.status_code == 200, first.text
    second = list_reviews(local_stack, limit=2, cursor=first.json()["next_cursor"])
    assert second.status_code == 200, second.text

    listed = [item["image_id"] for item in first.json()["items"] + second.json()["items"]]
    assert listed[:3] == photos_in_review[::-1]
    item = first.json()["items"][0]
    assert item["verdict"] == "review" and item["status"] == "done"
    photo = requests.get(item["image_url"], timeout=HTTP_TIMEOUT_S)  # the moderator sees what shoppers would
    assert photo.status_code == 200 and shows_photo(photo.content, DOG_PHOTO.read_bytes())
    assert rendition_version(item["image_url"]) == item["object_version"]  # exactly the judged version


def test_a_bad_cursor_or_limit_is_400(local_stack):
    assert_error(list_reviews(local_stack, cursor="bm90IGEgY3Vyc29y"), 400, "invalid_cursor")
    assert_error(list_reviews(local_stack, limit=101), 400, "invalid_request")


def test_settling_allow_shows_the_photo_and_takes_it_off_the_queue(local_stack, photos_in_review):
    image_id = photos_in_review[-1]
    assert_error(show(local_stack, image_id), 403, "image_in_review")

    reply = settle(local_stack, image_id, "allow", note="a wine shop's own product")

    assert reply.status_code == 200, reply.text
    settled = reply.json()
    assert (settled["verdict"], settled["model_verdict"]) == ("allow", "review")
    assert settled["moderation"]["decision"] == "allow" and settled["moderation"]["decided_at"]
    item = prediction_item(local_stack, image_id)
    assert (item["verdict"], item["model_verdict"]) == ("allow", "review")
    assert item["moderation"]["note"] == "a wine shop's own product"
    assert REVIEW_QUEUE_ATTRIBUTE not in item
    assert show(local_stack, image_id).status_code == 302
    assert api_get(local_stack, f"/predictions/{image_id}").json()["verdict"] == "allow"
    listed = [item["image_id"] for item in list_reviews(local_stack, limit=100).json()["items"]]
    assert image_id not in listed and photos_in_review[0] in listed


def test_settling_block_keeps_the_photo_hidden(local_stack, photos_in_review):
    image_id = photos_in_review[0]

    assert settle(local_stack, image_id, "block").status_code == 200

    assert_error(show(local_stack, image_id), 403, "image_blocked")


def test_settling_twice_or_a_photo_not_in_review_is_409_and_an_unknown_one_404(local_stack, photos_in_review):
    image_id = photos_in_review[1]
    assert settle(local_stack, image_id, "allow").status_code == 200

    assert_error(settle(local_stack, image_id, "block"), 409, "not_in_review")
    assert_error(settle(local_stack, "f" * 32, "allow"), 404, "image_not_found")
    assert_error(settle(local_stack, photos_in_review[0], "maybe"), 400, "invalid_request")
    assert prediction_item(local_stack, image_id)["verdict"] == "allow"
