"""A photo's prediction: one record per image, from `pending` to `done` or `failed`.

`Prediction` is the record's one shape: its constructors, its statuses and verdicts, its conversion to and
from the stored item (plain values; `prediction_table` turns them into DynamoDB's) and the API's view of it.
`EventStamp` orders the uploads of one key. Plain Python: no AWS, no HTTP.
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from photomod_shared import ids
from photomod_shared.errors import ImageNotFound, InvalidInput

STATUS_PENDING = "pending"
STATUS_DONE = "done"
STATUS_FAILED = "failed"
STATUSES = (STATUS_PENDING, STATUS_DONE, STATUS_FAILED)

VERDICT_ALLOW = "allow"
VERDICT_REVIEW = "review"
VERDICT_BLOCK = "block"
VERDICTS = (VERDICT_ALLOW, VERDICT_REVIEW, VERDICT_BLOCK)

# The verdict reason of a photo a shopper reported (the policy's reasons name a category of classes instead).
REASON_REPORTED_BY_SHOPPER = "reported_by_shopper"

# S3 sequencers differ in length; AWS says to right-pad the shorter with zeros before comparing them.
SEQUENCER_WIDTH = 40


@dataclass(frozen=True)
class Failure:
    """Why a photo ended `failed`: a stable code and a message for people."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> "Failure":
        return cls(str(value.get("code", "")), str(value.get("message", "")))


@dataclass(frozen=True)
class Prediction:
    """One image's record. Fields a writer does not know are None, and a None field is not stored."""

    image_id: str
    status: str
    s3_key: str | None = None
    source: str | None = None  # ids.SOURCE_UPLOAD or ids.SOURCE_DROP_FOLDER
    # What the client said it would upload (presigned uploads and POST /predict).
    original_filename: str | None = None
    content_type: str | None = None
    declared_size: int | None = None
    created_at: str | None = None
    upload_expires_at: str | None = None
    # The reconciler's re-sends of a notification that seems lost.
    requeue_count: int | None = None
    requeued_at: str | None = None
    # The outcome.
    prediction: str | None = None
    score: float | None = None
    labels: list[dict[str, Any]] | None = None
    verdict: str | None = None
    verdict_reasons: list[dict[str, Any]] | None = None
    policy_version: str | None = None
    model: dict[str, Any] | None = None
    safety: dict[str, Any] | None = None
    # The S3 version of s3_key that was judged; the display gate serves exactly this version.
    object_version: str | None = None
    object_etag: str | None = None
    classified_at: str | None = None
    error: Failure | None = None
    # A moderator's decision, and the model's own verdict once someone else's replaced it.
    moderation: dict[str, Any] | None = None
    model_verdict: str | None = None
    shopper_reports: int | None = None
    last_reported_at: str | None = None
    # Reports counted but over the limits (per client address), which hid nothing (feedback.service).
    reports_over_limit: int | None = None
    # The audit trail: every moderator's decision on this photo, oldest first ({action, by, at, note, version}).
    review_history: list[dict[str, Any]] | None = None

    @classmethod
    def pending(
        cls,
        image_id: str,
        *,
        s3_key: str,
        source: str,
        created_at: str | None = None,
        original_filename: str | None = None,
        content_type: str | None = None,
        declared_size: int | None = None,
        upload_expires_at: str | None = None,
        requeue_count: int | None = None,
        requeued_at: str | None = None,
    ) -> "Prediction":
        return cls(
            image_id,
            STATUS_PENDING,
            s3_key=s3_key,
            source=source,
            created_at=created_at,
            original_filename=original_filename,
            content_type=content_type,
            declared_size=declared_size,
            upload_expires_at=upload_expires_at,
            requeue_count=requeue_count,
            requeued_at=requeued_at,
        )

    @classmethod
    def done(
        cls,
        image_id: str,
        *,
        s3_key: str,
        prediction: str,
        score: float,
        labels: list[dict[str, Any]],
        verdict: str,
        verdict_reasons: list[dict[str, Any]],
        policy_version: str,
        model: dict[str, Any],
        safety: dict[str, Any] | None,
        object_etag: str | None = None,
        classified_at: str | None = None,
    ) -> "Prediction":
        return cls(
            image_id,
            STATUS_DONE,
            s3_key=s3_key,
            source=ids.source_for_key(s3_key),
            prediction=prediction,
            score=score,
            labels=labels,
            verdict=verdict,
            verdict_reasons=verdict_reasons,
            policy_version=policy_version,
            model=model,
            safety=safety,
            object_etag=object_etag,
            classified_at=classified_at,
        )

    @classmethod
    def failed(
        cls,
        image_id: str,
        *,
        s3_key: str,
        error: Failure | None,
        model: dict[str, Any] | None = None,
        object_etag: str | None = None,
        classified_at: str | None = None,
    ) -> "Prediction":
        return cls(
            image_id,
            STATUS_FAILED,
            s3_key=s3_key,
            source=ids.source_for_key(s3_key),
            error=error,
            model=model,
            object_etag=object_etag,
            classified_at=classified_at,
        )

    def classified(self, classified_at: str) -> "Prediction":
        return replace(self, classified_at=classified_at)

    @property
    def is_done(self) -> bool:
        return self.status == STATUS_DONE

    @property
    def is_failed(self) -> bool:
        return self.status == STATUS_FAILED

    @property
    def is_pending(self) -> bool:
        return self.status == STATUS_PENDING

    # ------------------------------------------------------------------------ the stored item

    def to_item(self) -> dict[str, Any]:
        """The stored item's attributes (plain values); fields that are None are left out."""
        item = {field.name: getattr(self, field.name) for field in fields(self)}
        if self.error is not None:
            item["error"] = self.error.to_dict()
        return {name: value for name, value in item.items() if value is not None}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "Prediction":
        """The record in a stored item; the table's own bookkeeping attributes (event order, queue) are skipped."""
        values: dict[str, Any] = {field.name: item.get(field.name) for field in fields(cls)}
        if isinstance(values["error"], Mapping):
            values["error"] = Failure.from_dict(values["error"])
        return cls(**values)

    def outcome(self) -> dict[str, Any]:
        """The attributes a final state sets on the stored item (the table adds the event that produced it).

        Every outcome sets every outcome field, nulls included, so nothing of an earlier upload's result
        survives: not the error of a failed one, and not the verdict, labels or safety scores of an older version
        beside a newer version that failed (the record always describes the version it names).
        """
        item = self.to_item()
        for name in ("image_id", "status"):
            item.pop(name, None)
        item.update({name: getattr(self, name) for name in _DONE_FIELDS})
        # Lists stay lists (a shopper's report appends to verdict_reasons).
        item.update(labels=self.labels or [], verdict_reasons=self.verdict_reasons or [])
        item["error"] = self.error.to_dict() if self.error else None
        return {"status": self.status, **item}

    # ------------------------------------------------------------------------ the API's view

    def view(self) -> dict[str, Any]:
        """The API body for one image. Absent fields are null so clients see one stable shape."""
        return {
            "image_id": self.image_id,
            "status": self.status,
            "prediction": self.prediction,
            "score": self.score,
            "labels": self.labels or [],
            "verdict": self.verdict,
            "verdict_reasons": self.verdict_reasons or [],
            "policy_version": self.policy_version,
            "model": self.model,
            "safety": self.safety,
            "source": self.source,
            "s3_key": self.s3_key,
            "object_version": self.object_version,
            "created_at": self.created_at,
            "classified_at": self.classified_at,
            "error": self.error.to_dict() if self.error else None,
        }


# What every outcome writes, so that a newer upload's result replaces every part of an older one's.
_DONE_FIELDS = (
    "prediction",
    "score",
    "labels",
    "verdict",
    "verdict_reasons",
    "policy_version",
    "model",
    "safety",
    "error",
)


class PredictionLookup(Protocol):
    def get(self, image_id: str) -> Prediction | None: ...


def find_prediction(image_id: str, predictions: PredictionLookup) -> Prediction:
    """The record of an image id a client sent: InvalidInput for a malformed id, ImageNotFound for an unknown one."""
    if not ids.is_image_id(image_id):
        raise InvalidInput("image_id must be 32 lowercase hexadecimal characters", code="invalid_image_id")
    prediction = predictions.get(image_id)
    if prediction is None:
        raise ImageNotFound(f"no image with id {image_id}")
    return prediction


# ---------------------------------------------------------------------------- the order of a key's uploads


def comparable_sequencer(sequencer: str) -> str:
    return sequencer.upper().ljust(SEQUENCER_WIDTH, "0")


def comparable_event_time(event_time: str) -> str:
    """An S3 `eventTime` as fixed-width UTC text, so that text order is time order; "" when unreadable."""
    try:
        moment = datetime.fromisoformat(event_time)
    except (TypeError, ValueError):
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class EventStamp:
    """Which upload of a key a result belongs to: the S3 event's order and the object version it created.

    Ordering rule (why: a replayed presigned POST writes a new version under the same key, and its verdict
    must replace the old one, never the reverse; and a version once judged keeps its verdict and a moderator's
    decision on it):
    0. the same known object version is the same upload, whatever the event's order says: a re-delivery, a
       late original, or the reconciler's re-send (which carries sequencer "0" and a time of its own). It is
       never judged again (only a new version is), so nothing but a new version replaces its result.
    1. different sequencers: the larger (right-padded) sequencer is newer. AWS orders a key's events so.
    2. equal sequencers (LocalStack sends one constant sequencer): the later `eventTime` is newer.
    3. equal sequencer and time: an unknown version is the same event (a duplicate delivery); a different
       version is decided by the bucket itself: the classifier judges it only if it is the key's current
       version (see classify.service), and the table then lets it replace the stored one.
    Whatever the order, a result only ever names the version that was judged, and the display gate serves
    exactly that version: a mistake in ordering can show an older judged photo, never unjudged bytes.
    `replaces` is the rule the table's conditional write applies (PredictionTable.record_outcome).
    """

    sequencer: str
    event_time: str = ""
    object_version: str | None = None

    @property
    def order(self) -> tuple[str, str]:
        return comparable_sequencer(self.sequencer), comparable_event_time(self.event_time)

    def compare(self, stored: "EventStamp") -> int:
        """1 if this event is newer than `stored`, -1 if older, 0 when only the versions can tell (rule 3)."""
        if self.order != stored.order:
            return 1 if self.order > stored.order else -1
        return 0

    def is_same_version_as(self, stored: "EventStamp") -> bool:
        """Rule 0: both name the same object version."""
        return self.object_version is not None and self.object_version == stored.object_version

    def is_duplicate_of(self, stored: "EventStamp") -> bool:
        """The same upload delivered again: the same version (rule 0), or the same order and an unknown version."""
        return self.is_same_version_as(stored) or (self.order == stored.order and self.object_version is None)

    def replaces(self, stored: "EventStamp | None", *, replace_same_order: bool = True) -> bool:
        """Whether a result of this event may overwrite the stored one's (None: nothing stored yet).

        Rule 3's "another version with the same order" replaces only when `replace_same_order` (the writer has
        asked the bucket which version is current); a writer that does not know its version says False.
        """
        if stored is None:
            return True
        if self.is_same_version_as(stored):
            return False
        order = self.compare(stored)
        if order != 0:
            return order > 0
        return replace_same_order and self.object_version != stored.object_version
