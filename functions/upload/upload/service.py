"""Uploads and prediction look-ups: plain Python, collaborators passed in."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from photomod_shared import ids
from photomod_shared.clock import iso, parse_iso
from photomod_shared.errors import ImageNotFound, InvalidInput, UnsupportedMediaType, UploadTooLarge
from photomod_shared.prediction import Failure, Prediction, find_prediction
from photomod_shared.tables.roles import Intake

# How long after a presigned upload expires before a missing object counts as never sent.
ARRIVAL_GRACE = timedelta(seconds=60)
UPLOAD_NOT_RECEIVED = Failure("upload_not_received", "the presigned upload expired before the photo arrived")

# The types the classifier decodes, with the extension the server-generated key gets.
EXTENSIONS_BY_CONTENT_TYPE = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "image/heic": "heic",
    "image/heif": "heif",
}


class ArrivalUnknown(Exception):
    """S3 would not say whether the photo arrived: a 403, which is what a missing key answers without
    s3:ListBucket (the template grants it on the upload prefix, so this means a misconfigured role)."""


class UploadRequest(Protocol):
    """What the client says it will send (the HTTP layer has validated each field)."""

    @property
    def filename(self) -> str: ...

    @property
    def content_type(self) -> str: ...

    @property
    def size(self) -> int: ...


class PhotoStore(Protocol):
    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]: ...

    def exists(self, key: str) -> bool:
        """False only if the object is known to be absent; raises ArrivalUnknown if S3 will not tell."""
        ...


@dataclass(frozen=True)
class UploadPolicy:
    max_bytes: int
    expires_in: int


@dataclass(frozen=True)
class PresignedUpload:
    image_id: str
    upload: dict[str, Any]  # the presigned POST: url and form fields
    expires_in: int


def create_upload(
    request: UploadRequest,
    *,
    policy: UploadPolicy,
    store: PhotoStore,
    predictions: Intake,
    now: datetime,
) -> PresignedUpload:
    """Validates what the client says it will send, records the image as pending and presigns the upload."""
    content_type = request.content_type.lower()
    extension = EXTENSIONS_BY_CONTENT_TYPE.get(content_type)
    if extension is None:
        raise UnsupportedMediaType(
            f"content type {request.content_type!r} is not supported; use one of "
            + ", ".join(EXTENSIONS_BY_CONTENT_TYPE)
        )
    if request.size > policy.max_bytes:
        raise UploadTooLarge(f"the file is {request.size} bytes; the limit is {policy.max_bytes} bytes")
    image_id = ids.new_image_id()
    key = ids.upload_key(image_id, extension)
    upload = store.presign_upload(key, content_type, policy.max_bytes, policy.expires_in)
    predictions.create_pending(
        Prediction.pending(
            image_id,
            s3_key=key,
            source=ids.SOURCE_UPLOAD,
            original_filename=request.filename,
            content_type=content_type,
            declared_size=request.size,
            created_at=iso(now),
            upload_expires_at=iso(now + timedelta(seconds=policy.expires_in)),
        )
    )
    return PresignedUpload(image_id, upload, policy.expires_in)


def get_prediction(image_id: str, *, store: PhotoStore, predictions: Intake, now: datetime) -> Prediction:
    prediction = find_prediction(image_id, predictions)
    if _upload_never_arrived(prediction, store, now):
        predictions.fail_if_pending(image_id, UPLOAD_NOT_RECEIVED, iso(now))
        prediction = predictions.get(image_id) or prediction
    return prediction


def find_prediction_by_key(key: str | None, *, store: PhotoStore, predictions: Intake, now: datetime) -> Prediction:
    if not key:
        raise InvalidInput("query parameter 'key' is required", code="missing_key")
    if not ids.is_drop_folder_key(key):
        raise InvalidInput(
            f"key must be an object key under {ids.DROP_FOLDER_PREFIX} (at most {ids.MAX_KEY_LENGTH} bytes, "
            "no control characters)",
            code="invalid_key",
        )
    image_id = ids.image_id_for_key(key)
    try:
        return get_prediction(image_id, store=store, predictions=predictions, now=now)
    except ImageNotFound:
        raise ImageNotFound(f"no prediction for key {key!r} yet") from None


def _upload_never_arrived(prediction: Prediction, store: PhotoStore, now: datetime) -> bool:
    expires_at = prediction.upload_expires_at
    if not prediction.is_pending or not expires_at or not prediction.s3_key:
        return False
    if now <= parse_iso(expires_at) + ARRIVAL_GRACE:
        return False
    try:
        return not store.exists(prediction.s3_key)
    except ArrivalUnknown:
        # Failing a photo that may be in the classify queue would lose it: it stays pending, and the
        # adapter has logged why (the dead-letter path still ends it if it arrived and cannot be classified).
        return False
