"""The moderators' review queue: photos whose verdict is `review`, newest first, and settling one.

Settling records the moderator's decision; the decision becomes the verdict (so the display gate follows it)
and the model's verdict is kept as `model_verdict`. A decision names the object version the moderator saw
(the queue links exactly that version): if a newer upload replaced it, the decision is refused (409).
"""

import base64
import json
from datetime import datetime
from http import HTTPStatus
from typing import Any, Protocol

from photomod_shared import ids
from photomod_shared.api import ApiError, InvalidRequest, stored_image
from photomod_shared.clock import iso
from photomod_shared.predictions import (
    REVIEW_QUEUE_ATTRIBUTE,
    REVIEW_QUEUE_PARTITION,
    STATUS_DONE,
    VERDICT_REVIEW,
    prediction_view,
)
from reviews.models import ReviewDecision

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# What a page's continuation key holds: the table's key and the index's.
_CURSOR_ATTRIBUTES = frozenset({"image_id", REVIEW_QUEUE_ATTRIBUTE, "classified_at"})


class ReviewQueue(Protocol):
    def review_queue_page(
        self, limit: int, start_after: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]: ...

    def get(self, image_id: str) -> dict[str, Any] | None: ...

    def settle_review(self, image_id: str, decision: str, note: str, decided_at: str, object_version: str) -> bool: ...


class PhotoLinks(Protocol):
    def presign_view(self, key: str, version_id: str, expires_in: int) -> str: ...


class NotInReview(ApiError):
    status = HTTPStatus.CONFLICT
    code = "not_in_review"


class VersionChanged(ApiError):
    status = HTTPStatus.CONFLICT
    code = "version_changed"


def list_reviews(
    limit: int, cursor: str | None, *, predictions: ReviewQueue, links: PhotoLinks, link_expires_in: int
) -> dict[str, Any]:
    """One page of the queue; `next_cursor` is None on the last page (a page may be full and the last)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}", code="invalid_limit")
    items, last_key = predictions.review_queue_page(limit, decode_cursor(cursor) if cursor else None)
    return {
        "items": [
            {
                **prediction_view(item),
                "original_filename": item.get("original_filename"),
                # The display gate refuses photos in review, so the moderator gets a link of their own: to the
                # judged version (null if none was recorded: nothing unjudged is ever linked).
                "image_url": (
                    links.presign_view(item["s3_key"], item["object_version"], link_expires_in)
                    if item.get("object_version")
                    else None
                ),
            }
            for item in items
        ],
        "next_cursor": encode_cursor(last_key) if last_key else None,
    }


def settle_review(image_id: str, request: ReviewDecision, *, predictions: ReviewQueue, now: datetime) -> dict[str, Any]:
    item = stored_image(image_id, predictions)
    if item.get("object_version") != request.object_version:
        raise VersionChanged(_version_changed(item, request.object_version))
    if item.get("status") != STATUS_DONE or item.get("verdict") != VERDICT_REVIEW:
        raise NotInReview(_not_in_review(item))
    decided_at = iso(now)
    if not predictions.settle_review(image_id, request.decision, request.note, decided_at, request.object_version):
        # Checked above, so another moderator (or a newer photo under the same key) got there first.
        latest = predictions.get(image_id) or item
        if latest.get("object_version") != request.object_version:
            raise VersionChanged(_version_changed(latest, request.object_version))
        raise NotInReview(_not_in_review(latest))
    return {
        "image_id": image_id,
        "object_version": request.object_version,
        "verdict": request.decision,
        # A photo a shopper reported keeps the model's own verdict (allow); see PredictionTable.report_by_shopper.
        "model_verdict": item.get("model_verdict") or VERDICT_REVIEW,
        "moderation": {"decision": request.decision, "note": request.note, "decided_at": decided_at},
    }


def _not_in_review(item: dict[str, Any]) -> str:
    if item.get("status") != STATUS_DONE:
        return f"the photo is not in review: its classification is {item.get('status')}"
    if item.get("model_verdict") == VERDICT_REVIEW:
        return f"the photo was already settled: its verdict is {item.get('verdict')}"
    return f"the photo is not in review: its verdict is {item.get('verdict')}"


def _version_changed(item: dict[str, Any], seen: str) -> str:
    return (
        f"the photo was replaced since you saw it (you judged version {seen!r}, the current judged version is "
        f"{item.get('object_version')!r}); reload the queue"
    )


def encode_cursor(key: dict[str, Any]) -> str:
    """Opaque to the client: the continuation key, as URL-safe base64 of compact JSON."""
    text = json.dumps(key, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The continuation key in a cursor; refuses anything `encode_cursor` could not have made."""
    invalid = InvalidRequest("cursor is not one this API returned", code="invalid_cursor")
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:  # not base64, not UTF-8 or not JSON
        raise invalid from None
    if (
        not isinstance(key, dict)
        or set(key) != _CURSOR_ATTRIBUTES
        or not all(isinstance(value, str) and len(value) <= 64 for value in key.values())
        or key[REVIEW_QUEUE_ATTRIBUTE] != REVIEW_QUEUE_PARTITION
        or not ids.is_image_id(key["image_id"])
    ):
        raise invalid
    return key
