"""Uploads and prediction look-ups: plain Python, collaborators passed in."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any, Protocol

from photomod_shared import ids
from photomod_shared.api import ApiError, ImageNotFound, InvalidRequest, stored_image
from photomod_shared.clock import iso, parse_iso
from photomod_shared.predictions import STATUS_PENDING, prediction_view
from upload.models import EXTENSIONS_BY_CONTENT_TYPE, UploadRequest

# How long after a presigned upload expires before a missing object counts as never sent.
ARRIVAL_GRACE = timedelta(seconds=60)


class ArrivalUnknown(Exception):
    """S3 would not say whether the photo arrived: a 403, which is what a missing key answers without
    s3:ListBucket (the template grants it on the upload prefix, so this means a misconfigured role)."""


class PhotoStore(Protocol):
    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]: ...

    def exists(self, key: str) -> bool:
        """False only if the object is known to be absent; raises ArrivalUnknown if S3 will not tell."""
        ...


class Predictions(Protocol):
    def create_pending(self, item: dict[str, Any]) -> None: ...

    def get(self, image_id: str) -> dict[str, Any] | None: ...

    def fail_if_pending(self, image_id: str, error: dict[str, str], failed_at: str) -> bool: ...


@dataclass(frozen=True)
class UploadPolicy:
    max_bytes: int
    expires_in: int


def create_upload(
    request: UploadRequest, *, policy: UploadPolicy, store: PhotoStore, predictions: Predictions, now: datetime
) -> dict[str, Any]:
    """Validates what the client says it will send, records the image as pending and presigns the upload."""
    extension = EXTENSIONS_BY_CONTENT_TYPE.get(request.content_type.lower())
    if extension is None:
        raise ApiError(
            f"content type {request.content_type!r} is not supported; use one of "
            + ", ".join(EXTENSIONS_BY_CONTENT_TYPE),
            code="unsupported_media_type",
        )
    if request.size > policy.max_bytes:
        raise ApiError(
            f"the file is {request.size} bytes; the limit is {policy.max_bytes} bytes", code="file_too_large"
        )
    image_id = ids.new_image_id()
    key = ids.upload_key(image_id, extension)
    upload = store.presign_upload(key, request.content_type.lower(), policy.max_bytes, policy.expires_in)
    predictions.create_pending(
        {
            "image_id": image_id,
            "s3_key": key,
            "source": ids.SOURCE_UPLOAD,
            "original_filename": request.filename,
            "content_type": request.content_type.lower(),
            "declared_size": request.size,
            "created_at": iso(now),
            "upload_expires_at": iso(now + timedelta(seconds=policy.expires_in)),
        }
    )
    return {"image_id": image_id, "upload": upload, "expires_in": policy.expires_in}


def get_prediction(image_id: str, *, store: PhotoStore, predictions: Predictions, now: datetime) -> dict[str, Any]:
    item = stored_image(image_id, predictions)
    if _upload_never_arrived(item, store, now):
        error = {"code": "upload_not_received", "message": "the presigned upload expired before the photo arrived"}
        predictions.fail_if_pending(image_id, error, iso(now))
        item = predictions.get(image_id) or item
    return prediction_view(item)


def find_prediction_by_key(key: str | None, **collaborators: Any) -> dict[str, Any]:
    if not key:
        raise InvalidRequest("query parameter 'key' is required", code="missing_key")
    if not ids.is_drop_folder_key(key):
        raise InvalidRequest(
            f"key must be an object key under {ids.DROP_FOLDER_PREFIX} (at most {ids.MAX_KEY_LENGTH} bytes, "
            "no control characters)",
            code="invalid_key",
        )
    image_id = ids.image_id_for_key(key)
    try:
        return get_prediction(image_id, **collaborators)
    except ImageNotFound:
        raise ImageNotFound(f"no prediction for key {key!r} yet", status=HTTPStatus.NOT_FOUND) from None


def _upload_never_arrived(item: dict[str, Any], store: PhotoStore, now: datetime) -> bool:
    expires_at = item.get("upload_expires_at")
    if item.get("status") != STATUS_PENDING or not expires_at:
        return False
    if now <= parse_iso(expires_at) + ARRIVAL_GRACE:
        return False
    try:
        return not store.exists(item["s3_key"])
    except ArrivalUnknown:
        # Failing a photo that may be in the classify queue would lose it: it stays pending, and the
        # adapter has logged why (the dead-letter path still ends it if it arrived and cannot be classified).
        return False
