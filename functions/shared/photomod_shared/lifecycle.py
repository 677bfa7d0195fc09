"""How a photo's life can end without a verdict: the failure codes every function writes, and the rule for an
upload that never arrived. Upload (when polled), reconcile (on its schedule) and classify read them from here,
so a client sees one code for one reason whichever function noticed it first."""

from datetime import datetime, timedelta

from photomod_shared.clock import parse_iso
from photomod_shared.prediction import Failure

# How long after a presigned upload expires before a missing object counts as never sent: S3 accepts a POST
# that started before the expiry, and its notification can lag behind.
ARRIVAL_GRACE = timedelta(seconds=60)

# Failure codes set by the service itself (the decoder's own codes, e.g. corrupt_image, live in classify.imaging).
UPLOAD_NOT_RECEIVED_CODE = "upload_not_received"
OBJECT_MISSING_CODE = "object_missing"
NOT_CLASSIFIED_CODE = "not_classified"
RETRIES_EXHAUSTED_CODE = "retries_exhausted"
TOO_LARGE_FOR_MEMORY = "too_large_for_memory"
CRASHED_CLASSIFIER = "crashed_classifier"
CLASSIFIER_ERROR = "classifier_error"
FAILURE_CODES = frozenset(
    {
        UPLOAD_NOT_RECEIVED_CODE,
        OBJECT_MISSING_CODE,
        NOT_CLASSIFIED_CODE,
        RETRIES_EXHAUSTED_CODE,
        TOO_LARGE_FOR_MEMORY,
        CRASHED_CLASSIFIER,
        CLASSIFIER_ERROR,
    }
)

UPLOAD_NOT_RECEIVED = Failure(
    code=UPLOAD_NOT_RECEIVED_CODE, message="the presigned upload expired before the photo arrived"
)
OBJECT_MISSING = Failure(code=OBJECT_MISSING_CODE, message="the photo was deleted before it could be classified")
RETRIES_EXHAUSTED = Failure(
    code=RETRIES_EXHAUSTED_CODE,
    message="classification kept failing (e.g. the function timed out or crashed); the photo was not classified",
)


def not_classified(times: int) -> Failure:
    return Failure(
        code=NOT_CLASSIFIED_CODE,
        message=f"the photo's notification was sent again {times} times and it was still not classified",
    )


def may_still_arrive(upload_expires_at: str | None, now: datetime) -> bool:
    """True while a presigned upload (expiring at `upload_expires_at`) can still deliver its photo; a photo
    without an upload window (the drop folder) has nothing to wait for."""
    if not upload_expires_at:
        return False
    return now <= parse_iso(upload_expires_at) + ARRIVAL_GRACE
