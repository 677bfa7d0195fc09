"""GET /images/{image_id}: the display gate. A photo is shown only once its verdict is `allow`.

The bucket stays private; a shown photo is a short-lived presigned GET, so a link copied from a page stops
working soon after, and a photo a moderator later blocks is no longer served.

Only judged bytes: the URL names the object version the verdict was given for (`object_version`). A newer
upload to the same key (a replayed presigned POST) is a new version: until it is judged, the gate keeps
serving the version that was judged, and once it is judged, its own verdict decides.

- verdict allow (the model's or a moderator's) -> 302 to a presigned GET of the judged version
- no judged version recorded (a result from before the bucket was versioned) -> 409 image_unverified
- verdict block -> 403 image_blocked
- verdict review -> 403 image_in_review
- still pending -> 409 image_pending (ask again shortly)
- classification failed -> 409 image_failed (the photo exists but will never be shown: not a 404)
- unknown id -> 404 image_not_found
"""

from http import HTTPStatus
from typing import Any, Protocol

from photomod_shared.api import ApiError, stored_image
from photomod_shared.predictions import STATUS_DONE, STATUS_FAILED, VERDICT_ALLOW, VERDICT_BLOCK


class DisplayStore(Protocol):
    def presign_display(self, key: str, version_id: str, expires_in: int) -> str: ...


class Predictions(Protocol):
    def get(self, image_id: str) -> dict[str, Any] | None: ...


def display_url(image_id: str, *, expires_in: int, store: DisplayStore, predictions: Predictions) -> str:
    """A presigned GET of the photo if it may be shown; raises ApiError saying why not otherwise."""
    item = stored_image(image_id, predictions)
    status, verdict = item.get("status"), item.get("verdict")
    if status == STATUS_FAILED:
        raise ApiError(
            "the photo could not be classified and will never be shown",
            code="image_failed",
            status=HTTPStatus.CONFLICT,
        )
    if status != STATUS_DONE:
        raise ApiError(
            "the photo is not classified yet; ask again shortly", code="image_pending", status=HTTPStatus.CONFLICT
        )
    if verdict == VERDICT_ALLOW:
        version = item.get("object_version")
        if not version:
            # Without a version the URL would serve whatever the key holds now, judged or not.
            raise ApiError(
                "the photo's judged version is unknown, so it is not shown",
                code="image_unverified",
                status=HTTPStatus.CONFLICT,
            )
        return store.presign_display(item["s3_key"], version, expires_in)
    if verdict == VERDICT_BLOCK:
        raise ApiError("the photo may not be shown", code="image_blocked", status=HTTPStatus.FORBIDDEN)
    # `review`, and anything a newer policy may add: not shown until a moderator allows it.
    raise ApiError("the photo is waiting for a moderator", code="image_in_review", status=HTTPStatus.FORBIDDEN)
