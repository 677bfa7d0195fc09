"""GET /images/{image_id}: the display gate. A photo is shown only once its verdict is `allow`.

The bucket stays private; a shown photo is a short-lived presigned GET, so a link copied from a page stops
working soon after, and a photo a moderator later blocks is no longer served.

Only judged pixels: what is served is the display rendition classify made of the object version the verdict was
given for (`object_version`): a metadata-free JPEG whose pixels are the ones both models judged. The upload itself
is never served. A newer upload to the same key (a replayed presigned POST) is a new version with a rendition of
its own: until it is judged, the gate keeps serving the judged version's, and once it is judged, its own verdict
decides.

- verdict allow (the model's or a moderator's) -> on AWS the CDN's URL of the published rendition
  (photomod_shared.publication: an allow publishes it, anything else unpublishes it); locally, with no CDN, a
  presigned GET of the judged version's rendition (app.py: 302)
- no judged version recorded (a result from before the bucket was versioned) -> ImageUnverified
- verdict block -> ImageBlocked
- verdict review -> ImageInReview
- still pending -> ImagePending (ask again shortly)
- classification failed -> ImageFailed (the photo exists but will never be shown: not ImageNotFound)
- unknown id -> ImageNotFound
(upload.app's ERROR_STATUSES gives each its status: 409, 403, 403, 409, 409, 404.)
"""

from typing import Protocol

from photomod_shared import ids
from photomod_shared.errors import ImageBlocked, ImageFailed, ImageInReview, ImagePending, ImageUnverified
from photomod_shared.prediction import VERDICT_ALLOW, VERDICT_BLOCK, PredictionLookup, find_prediction
from photomod_shared.publication import published_key


class DisplayStore(Protocol):
    def presign_display(self, key: str, expires_in: int) -> str: ...


def display_url(
    image_id: str,
    *,
    expires_in: int,
    store: DisplayStore,
    predictions: PredictionLookup,
    cdn_domain: str | None = None,
) -> str:
    """A presigned GET of the photo's rendition if it may be shown; raises a domain error saying why not."""
    prediction = find_prediction(image_id, predictions)
    if prediction.is_failed:
        raise ImageFailed("the photo could not be classified and will never be shown")
    if not prediction.is_done:
        raise ImagePending("the photo is not classified yet; ask again shortly")
    if prediction.verdict == VERDICT_ALLOW:
        version = prediction.object_version
        if not version or not prediction.s3_key:
            # Without a version the URL would serve whatever the key holds now, judged or not.
            raise ImageUnverified("the photo's judged version is unknown, so it is not shown")
        if cdn_domain:
            return f"https://{cdn_domain}/{published_key(prediction.image_id)}"
        return store.presign_display(ids.rendition_key(prediction.image_id, version), expires_in)
    if prediction.verdict == VERDICT_BLOCK:
        raise ImageBlocked("the photo may not be shown")
    # `review`, and anything a newer policy may add: not shown until a moderator allows it.
    raise ImageInReview("the photo is waiting for a moderator")
