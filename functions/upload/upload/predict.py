"""POST /predict: the original service's synchronous contract on top of the asynchronous pipeline.

The photo takes the same path as a presigned upload (S3 -> SQS -> classify -> DynamoDB): it is recorded as
pending, stored under a server-generated key, and the answer is whatever the classifier records within a
bounded wait. Plain Python: the request body in, collaborators passed in.
"""

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import multipart

from photomod_shared import ids
from photomod_shared.clock import iso
from photomod_shared.errors import FileTooLarge, MalformedRequest, MissingFile, UnsupportedMediaType
from photomod_shared.formats import HEIC_BRANDS, sniff_image_format
from photomod_shared.prediction import (
    STATUS_DONE,
    STATUS_FAILED,
    STATUS_PENDING,
    Failure,
    Prediction,
)
from photomod_shared.tables.roles import Intake
from upload.service import EXTENSIONS_BY_CONTENT_TYPE

FILE_FIELD = "file"
# Between polls of the predictions table: short at first (a warm classifier answers in about a second),
# then longer so a slow one costs few reads.
FIRST_POLL_INTERVAL_S = 0.2
MAX_POLL_INTERVAL_S = 1.0
UPLOAD_FAILED = Failure("upload_failed", "the photo could not be stored")


@dataclass(frozen=True)
class Photo:
    data: bytes
    filename: str  # the client's name for it ("" for a raw body); stored, never used as a key


@dataclass(frozen=True)
class PredictOutcome:
    """What the classifier recorded by the end of the wait: `status` is done, failed or still pending."""

    image_id: str
    status: str
    prediction: str | None = None
    score: float | None = None
    error_code: str | None = None


class PhotoStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...


def read_photo(body: bytes, content_type: str | None, max_bytes: int) -> Photo:
    """The photo in a request: the `file` field of a multipart/form-data body, or an `image/*` body itself."""
    media_type, options = multipart.parse_options_header(content_type or "")
    if media_type == "multipart/form-data":
        return _file_field(body, options.get("boundary", ""), max_bytes)
    if media_type.startswith("image/"):
        if len(body) > max_bytes:
            raise _too_large(len(body), max_bytes)
        if not body:
            raise MissingFile("the request body is empty")
        return Photo(body, "")
    raise MissingFile(f"send the photo as the {FILE_FIELD!r} field of multipart/form-data, or as an image/* body")


def _file_field(body: bytes, boundary: str, max_bytes: int) -> Photo:
    if not boundary:
        raise MalformedRequest("the multipart/form-data content type has no boundary")
    parser = multipart.MultipartParser(
        io.BytesIO(body),
        boundary,
        content_length=len(body),
        partsize_limit=max_bytes,
        spool_limit=max_bytes,  # API Gateway caps the body at 10 MB: keep the photo in memory
        memory_limit=max_bytes + 1024 * 1024,
    )
    try:
        part = parser.get(FILE_FIELD)
    except multipart.ParserLimitReached:
        raise _too_large(None, max_bytes) from None
    except multipart.MultipartError as error:
        raise MalformedRequest(f"the multipart/form-data body cannot be parsed: {error}") from None
    # As in the original service: a form without a file, or a file input left empty, sends no filename.
    if part is None or not part.filename:
        raise MissingFile(f"no file in the {FILE_FIELD!r} field")
    return Photo(part.raw, part.filename)


def _too_large(size: int | None, max_bytes: int) -> FileTooLarge:
    what = f"the file is {size} bytes" if size is not None else "the file is too large"
    return FileTooLarge(f"{what}; the limit is {max_bytes} bytes")


def image_content_type(data: bytes) -> str | None:
    """The content type the magic bytes announce, for the types the classifier decodes; None otherwise.

    Only a first check, so an obvious non-image is refused at once: the classifier does the full decode.
    """
    image_format = sniff_image_format(data)
    if image_format == "HEIF":
        return "image/heic" if data[8:12] in HEIC_BRANDS else "image/heif"
    return f"image/{image_format.lower()}" if image_format else None


def predict(
    photo: Photo,
    *,
    wait_seconds: float,
    store: PhotoStore,
    predictions: Intake,
    now: datetime,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PredictOutcome:
    """Stores the photo for classification and waits up to `wait_seconds` for the result."""
    content_type = image_content_type(photo.data)
    if content_type is None:
        raise UnsupportedMediaType("the file is not a supported image; send JPEG, PNG, GIF, WebP, BMP, TIFF or HEIC")
    image_id = ids.new_image_id()
    key = ids.upload_key(image_id, EXTENSIONS_BY_CONTENT_TYPE[content_type])
    # The same item as a presigned upload's, recorded before the object exists so the classifier's result
    # always finds it. The "upload" expires at once: if the put below never lands, GET /predictions/{id}
    # reports it as never received after the usual grace period.
    predictions.create_pending(
        Prediction.pending(
            image_id,
            s3_key=key,
            source=ids.SOURCE_UPLOAD,
            original_filename=photo.filename,
            content_type=content_type,
            declared_size=len(photo.data),
            created_at=iso(now),
            upload_expires_at=iso(now),
        )
    )
    try:
        store.put(key, photo.data, content_type)
    except Exception:
        predictions.fail_if_pending(image_id, UPLOAD_FAILED, iso(now))
        raise
    return wait_for_prediction(image_id, wait_seconds, predictions, monotonic, sleep)


def wait_for_prediction(
    image_id: str,
    wait_seconds: float,
    predictions: Intake,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PredictOutcome:
    """Polls the prediction until it is final or `wait_seconds` have passed (then it is still pending)."""
    deadline = monotonic() + wait_seconds
    interval = FIRST_POLL_INTERVAL_S
    while True:
        sleep(max(0.0, min(interval, deadline - monotonic())))
        prediction = predictions.get(image_id)
        if prediction is not None and prediction.is_done:
            score = round(float(prediction.score or 0), 4)
            return PredictOutcome(image_id, STATUS_DONE, str(prediction.prediction), score)
        if prediction is not None and prediction.is_failed:
            code = prediction.error.code if prediction.error else "failed"
            return PredictOutcome(image_id, STATUS_FAILED, error_code=code)
        if monotonic() >= deadline:
            return PredictOutcome(image_id, STATUS_PENDING)
        interval = min(interval * 1.5, MAX_POLL_INTERVAL_S)
