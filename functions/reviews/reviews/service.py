"""The moderators' review queue: photos whose verdict is `review`, newest first, and settling one.

Settling records the moderator's decision; the decision becomes the verdict (so the display gate follows it)
and the model's verdict is kept as `model_verdict`. A decision names the object version the moderator saw
(the queue links exactly that version): if a newer upload replaced it, the decision is refused (409).

A block banks the photo's PDQ hash (photomod_shared.photo_bank): classify then blocks its copies automatically
(`matches_blocked_photo`). Undoing a block takes it out of the bank again; moderators can remove a hash too.
"""

from datetime import datetime
from typing import Any, Protocol

from photomod_shared import cursors, ids
from photomod_shared.clock import iso
from photomod_shared.cursors import NOT_OURS, encode_cursor
from photomod_shared.errors import (
    ImageNotFound,
    InvalidCursor,
    InvalidInput,
    NotBanked,
    NotDecided,
    NotInReview,
    VersionChanged,
)
from photomod_shared.photo_bank import BankEntry
from photomod_shared.prediction import (
    VERDICT_ALLOW,
    VERDICT_BLOCK,
    VERDICT_REVIEW,
    Prediction,
    PredictionLookup,
    find_prediction,
)
from photomod_shared.prediction_table import REVIEW_QUEUE_ATTRIBUTE, REVIEW_QUEUE_PARTITION
from photomod_shared.publication import NoPublisher, Publisher, settle_publication
from photomod_shared.tables.roles import Moderation
from photomod_shared.verdict_events import NoVerdictEvents, VerdictEvent, VerdictPublisher

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# What a page's continuation key holds: the table's key and the index's.
_CURSOR_ATTRIBUTES = frozenset({"image_id", REVIEW_QUEUE_ATTRIBUTE, "classified_at"})


class PhotoLinks(Protocol):
    def presign_view(self, key: str, expires_in: int) -> str: ...


class Moderator(Protocol):
    """Who decides: the user pool's stable id and the name they signed in with (photomod_shared.staff)."""

    @property
    def sub(self) -> str: ...

    @property
    def username(self) -> str: ...


class PhotoBank(Protocol):
    """The bank of moderators' blocks (photomod_shared.tables.PhotoBankTable)."""

    def add(self, entry: BankEntry) -> None: ...

    def get(self, image_id: str) -> BankEntry | None: ...

    def remove(self, image_id: str, removed_at: str, removed_by: dict[str, str]) -> BankEntry | None: ...


class Decision(Protocol):
    """A moderator's decision (the HTTP layer has validated each field)."""

    @property
    def decision(self) -> str: ...

    @property
    def note(self) -> str: ...

    @property
    def object_version(self) -> str: ...


def list_reviews(
    limit: int, cursor: str | None, *, predictions: Moderation, links: PhotoLinks, link_expires_in: int
) -> dict[str, Any]:
    """One page of the queue; `next_cursor` is None on the last page (a page may be full and the last)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}", code="invalid_limit")
    page, last_key = predictions.review_queue_page(limit, decode_cursor(cursor) if cursor else None)
    return {
        "items": [
            {
                **prediction.view().model_dump(),
                "original_filename": prediction.original_filename,
                # How many shoppers reported it, and how many of those reports were over the limits (hid nothing).
                "shopper_reports": prediction.shopper_reports or 0,
                "reports_over_limit": prediction.reports_over_limit or 0,
                # The display gate refuses photos in review, so the moderator gets a link of their own: to the
                # judged version's rendition, what shoppers would see (null if no version was recorded: nothing
                # unjudged is ever linked).
                "image_url": (
                    links.presign_view(
                        ids.rendition_key(prediction.image_id, prediction.object_version), link_expires_in
                    )
                    if prediction.object_version and prediction.s3_key
                    else None
                ),
            }
            for prediction in page
        ],
        "next_cursor": encode_cursor(last_key) if last_key else None,
    }


def settle_review(
    image_id: str,
    request: Decision,
    *,
    by: Moderator,
    predictions: Moderation,
    now: datetime,
    publisher: Publisher | None = None,
    verdicts: VerdictPublisher | None = None,
    bank: PhotoBank | None = None,
) -> dict[str, Any]:
    """Records the moderator's decision on the version they saw, with who made it; an allow publishes its
    rendition, a block unpublishes it, both before it is recorded (photomod_shared.publication): a failed publish
    records nothing, so the moderator's retry decides again instead of meeting an unpublished allow.
    A block then banks the photo's hash (if its prediction has one): `banked` in the answer says whether it did."""
    publisher = publisher or NoPublisher()
    prediction = find_prediction(image_id, predictions)
    if prediction.object_version != request.object_version:
        raise VersionChanged(_version_changed(prediction, request.object_version))
    if not prediction.is_done or prediction.verdict != VERDICT_REVIEW:
        raise NotInReview(_not_in_review(prediction))
    decided_at = iso(now)
    decided_by = {"sub": by.sub, "username": by.username}
    allowed = request.decision == VERDICT_ALLOW
    if allowed:
        publisher.publish(image_id, request.object_version)
    else:
        publisher.unpublish(image_id)
    # A block is banked before it is recorded (failing closed, as the unpublish): a failed bank write records
    # nothing, so the moderator's retry banks it, instead of meeting a recorded block whose copies pass.
    banked = _bank_entry(image_id, prediction, request, decided_at, decided_by) if bank is not None else None
    if banked is not None:
        assert bank is not None
        bank.add(banked)
    try:
        settled = predictions.settle_review(
            image_id, request.decision, request.note, decided_at, request.object_version, decided_by
        )
    except Exception:
        if allowed:
            publisher.unpublish(image_id)  # nothing was recorded: the photo is still in review, so hidden
        if banked is not None and bank is not None:
            bank.remove(image_id, decided_at, decided_by)  # nothing was recorded: no block to bank
        raise
    if not settled and banked is not None and bank is not None:
        bank.remove(image_id, decided_at, decided_by)  # someone else decided: theirs stands, not this block
    if not settled:
        # Checked above, so another moderator (or a newer photo under the same key) got there first: what is
        # published follows their decision, not this one.
        latest = predictions.get(image_id)
        settle_publication(image_id, latest, publisher)
        latest = latest or prediction
        if latest.object_version != request.object_version:
            raise VersionChanged(_version_changed(latest, request.object_version))
        raise NotInReview(_not_in_review(latest))
    (verdicts or NoVerdictEvents()).publish(
        VerdictEvent.decided(prediction, request.decision, request.note, decided_at)
    )
    return {
        "image_id": image_id,
        "object_version": request.object_version,
        "verdict": request.decision,
        # A photo a shopper reported keeps the model's own verdict (allow); see PredictionTable.report_by_shopper.
        "model_verdict": prediction.model_verdict or VERDICT_REVIEW,
        "moderation": {
            "decision": request.decision,
            "note": request.note,
            "decided_at": decided_at,
            "decided_by": decided_by,
        },
        "banked": banked is not None,
    }


def _bank_entry(
    image_id: str, prediction: Prediction, request: Decision, decided_at: str, decided_by: dict[str, str]
) -> BankEntry | None:
    """What a moderator's block banks: the photo's PDQ hash (none for an allow, or a photo judged without one)."""
    if request.decision != VERDICT_BLOCK or prediction.photo_bank is None:
        return None
    return BankEntry(
        image_id=image_id,
        pdq=prediction.photo_bank.pdq,
        quality=prediction.photo_bank.quality,
        banked_at=decided_at,
        changed_at=decided_at,
        banked_by=decided_by,
        note=request.note,
    )


def undo_review(
    image_id: str,
    object_version: str,
    *,
    by: Moderator,
    predictions: Moderation,
    now: datetime,
    publisher: Publisher | None = None,
    bank: PhotoBank | None = None,
) -> dict[str, Any]:
    """A moderator takes back a decision (theirs or another's): the photo is hidden and in the queue again, and
    the undo is in its audit trail with who and when. An undone block leaves the bank."""
    prediction = find_prediction(image_id, predictions)
    if prediction.object_version != object_version:
        raise VersionChanged(_version_changed(prediction, object_version))
    undone_by = {"sub": by.sub, "username": by.username}
    # Hidden again before the undo is recorded (failing closed, as a block does).
    (publisher or NoPublisher()).unpublish(image_id)
    if not predictions.undo_review(image_id, iso(now), object_version, undone_by):
        raise NotDecided(f"the photo has no moderator's decision to undo: its verdict is {prediction.verdict}")
    if bank is not None and prediction.verdict == VERDICT_BLOCK:
        bank.remove(image_id, iso(now), undone_by)
    return {"image_id": image_id, "object_version": object_version, "verdict": VERDICT_REVIEW, "undone_by": undone_by}


def banked_photo(image_id: str, *, bank: PhotoBank | None) -> dict[str, Any]:
    """A banked hash: which photo, who banked it and when, and whether it was removed (and by whom). `bank` None:
    this stack banks nothing."""
    _valid_image_id(image_id)
    entry = bank.get(image_id) if bank is not None else None
    if entry is None:
        raise ImageNotFound(f"no photo with id {image_id} was ever banked")
    return entry.view()


def remove_from_bank(image_id: str, *, by: Moderator, bank: PhotoBank | None, now: datetime) -> dict[str, Any]:
    """Takes a banked hash out of the bank: copies of that photo are no longer blocked automatically (from the
    next photo judged). The entry stays, marked removed, with who removed it."""
    _valid_image_id(image_id)
    if bank is None or bank.get(image_id) is None:  # 404, as every route answers an id it does not know
        raise ImageNotFound(f"no photo with id {image_id} was ever banked")
    who = {"sub": by.sub, "username": by.username}
    removed = bank.remove(image_id, iso(now), who)
    if removed is None:
        raise NotBanked(f"the photo {image_id} is not in the bank any more (removed already)")
    return removed.view()


def _valid_image_id(image_id: str) -> str:
    if not ids.is_image_id(image_id):
        raise InvalidInput("image_id must be 32 lowercase hexadecimal characters", code="invalid_image_id")
    return image_id


def review_history(image_id: str, *, predictions: PredictionLookup) -> dict[str, Any]:
    """The audit trail of one photo: every moderator's decision (who, when, on which version) and its reports."""
    prediction = find_prediction(image_id, predictions)
    return {
        "image_id": image_id,
        "verdict": prediction.verdict,
        "model_verdict": prediction.model_verdict,
        "moderation": prediction.moderation,
        "history": prediction.review_history or [],
        "shopper_reports": prediction.shopper_reports or 0,
        "reports_over_limit": prediction.reports_over_limit or 0,
        "last_reported_at": prediction.last_reported_at,
    }


def _not_in_review(prediction: Prediction) -> str:
    if not prediction.is_done:
        return f"the photo is not in review: its classification is {prediction.status}"
    if prediction.model_verdict == VERDICT_REVIEW:
        return f"the photo was already settled: its verdict is {prediction.verdict}"
    return f"the photo is not in review: its verdict is {prediction.verdict}"


def _version_changed(prediction: Prediction, seen: str) -> str:
    return (
        f"the photo was replaced since you saw it (you judged version {seen!r}, the current judged version is "
        f"{prediction.object_version!r}); reload the queue"
    )


def decode_cursor(cursor: str) -> dict[str, str]:
    """The continuation key in a cursor; refuses anything `encode_cursor` could not have made from this queue."""
    key = cursors.decode_cursor(cursor, _CURSOR_ATTRIBUTES)
    if (
        not all(len(value) <= 64 for value in key.values())
        or key[REVIEW_QUEUE_ATTRIBUTE] != REVIEW_QUEUE_PARTITION
        or not ids.is_image_id(key["image_id"])
    ):
        raise InvalidCursor(NOT_OURS)
    return key
