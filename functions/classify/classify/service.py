"""classify_messages: one SQS batch of S3 notifications -> predictions and verdicts, one forward pass.

Per message the outcome is all-or-nothing: a message is reported as failed (and retried by SQS) only when
something transient went wrong for one of its photos. A photo that can never be classified is recorded as
`failed` with a reason and its message succeeds, so one bad photo never holds up its batch.
"""

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from classify.events import MalformedNotification, PhotoEvent, photo_events
from classify.imaging import ImageLimits, ImageRejected, decode_image, preprocess
from classify.labels import ClassIndex, top_k
from classify.model import ModelInfo
from classify.policy import ModerationPolicy
from classify.safety import SafetyInfo, safety_result
from photomod_shared import ids
from photomod_shared.clock import iso, utc_now
from photomod_shared.predictions import STATUS_DONE, STATUS_FAILED, comparable_sequencer

logger = logging.getLogger(__name__)


class ObjectMissing(Exception):
    """The notified object is no longer in the bucket."""


class PhotoReader(Protocol):
    def read(self, bucket: str, key: str) -> bytes: ...


class Predictions(Protocol):
    def stored_sequencers(self, image_ids: list[str]) -> dict[str, str]: ...

    def record_outcome(self, image_id: str, sequencer: str, attributes: dict[str, Any], created_at: str) -> bool: ...


class Model(Protocol):
    info: ModelInfo

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


class SafetyModel(Protocol):
    info: SafetyInfo

    def preprocess(self, image: Any) -> np.ndarray: ...

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Message:
    message_id: str
    body: str


@dataclass
class Classification:
    """Everything classify_messages needs besides the messages."""

    photos: PhotoReader
    predictions: Predictions
    model: Model
    policy: ModerationPolicy
    class_index: ClassIndex
    limits: ImageLimits = field(default_factory=ImageLimits)
    resize_method: str = "nearest"
    top_k: int = 5
    decode_threads: int = 4
    clock: Callable[[], Any] = utc_now
    # None only where running without it is allowed (a local stack before `make models`): `safety` is then null.
    safety: SafetyModel | None = None


@dataclass
class _Photo:
    message_id: str
    event: PhotoEvent
    image_id: str
    pixels: np.ndarray | None = None
    safety_pixels: np.ndarray | None = None
    rejection: ImageRejected | None = None


def classify_messages(messages: Iterable[Message], work: Classification) -> list[str]:
    """Classifies every new photo in the batch; returns the ids of the messages to retry."""
    retry: set[str] = set()
    photos: dict[str, _Photo] = {}
    for message in messages:
        try:
            events = photo_events(message.body)
        except MalformedNotification:
            logger.exception(
                "malformed notification in message %s; leaving it for the dead-letter queue", message.message_id
            )
            retry.add(message.message_id)
            continue
        for event in events:
            _collect(message.message_id, event, photos)

    fresh = _new_photos(list(photos.values()), work, retry)
    with ThreadPoolExecutor(max_workers=max(1, work.decode_threads)) as pool:
        for photo, outcome in zip(fresh, pool.map(lambda photo: _load(photo, work), fresh), strict=True):
            if outcome is not None:
                logger.warning("could not read %s, will retry: %r", photo.event.key, outcome)
                retry.add(photo.message_id)

        decoded = [photo for photo in fresh if photo.pixels is not None and photo.message_id not in retry]
        outcomes: list[tuple[_Photo, dict[str, Any]]] = []
        if decoded:
            probabilities = work.model.predict(np.stack([photo.pixels for photo in decoded]))  # type: ignore[misc]
            safety: list[np.ndarray | None] = [None] * len(decoded)
            if work.safety is not None:
                safety = list(work.safety.predict(np.stack([photo.safety_pixels for photo in decoded])))  # type: ignore[misc]
            outcomes.extend(
                (photo, _done_attributes(row, safety_row, work))
                for photo, row, safety_row in zip(decoded, probabilities, safety, strict=True)
            )
        for photo in fresh:
            if photo.rejection is not None:
                error = {"code": photo.rejection.code, "message": photo.rejection.message}
                outcomes.append((photo, {"status": STATUS_FAILED, "error": error, "model": work.model.info.to_dict()}))
        # Conditional writes cannot be batched; in parallel they cost one round trip instead of one per photo.
        stored = pool.map(lambda outcome: _write(outcome[0], outcome[1], work), outcomes)
        retry.update(photo.message_id for (photo, _), written in zip(outcomes, stored, strict=True) if not written)
    return sorted(retry)


def _collect(message_id: str, event: PhotoEvent, photos: dict[str, _Photo]) -> None:
    try:
        image_id = ids.image_id_for_key(event.key)
    except ids.UnrecognisedKey:
        logger.warning("ignoring object outside the classified prefixes: %r", event.key)
        return
    known = photos.get(image_id)
    # Duplicate notifications in one batch: keep the newest event for the object.
    if known is None or comparable_sequencer(event.sequencer) > comparable_sequencer(known.event.sequencer):
        photos[image_id] = _Photo(message_id, event, image_id)


def _new_photos(photos: list[_Photo], work: Classification, retry: set[str]) -> list[_Photo]:
    """Leaves out events whose result (or a newer one) is already stored: no inference is wasted on them."""
    if not photos:
        return []
    try:
        stored = work.predictions.stored_sequencers([photo.image_id for photo in photos])
    except Exception:
        logger.exception("could not read stored predictions, will retry the batch")
        retry.update(photo.message_id for photo in photos)
        return []
    fresh = []
    for photo in photos:
        if stored.get(photo.image_id, "") >= comparable_sequencer(photo.event.sequencer):
            logger.info("duplicate or late notification for %s ignored", photo.event.key)
        else:
            fresh.append(photo)
    return fresh


def _load(photo: _Photo, work: Classification) -> Exception | None:
    """Reads and decodes one photo; returns the exception to retry on, if any."""
    try:
        data = work.photos.read(photo.event.bucket, photo.event.key)
        image = decode_image(data, work.limits)
        # One decode, two models: each gets the image preprocessed its own way.
        photo.pixels = preprocess(image, work.resize_method)
        if work.safety is not None:
            photo.safety_pixels = work.safety.preprocess(image)
    except ImageRejected as rejection:
        photo.rejection = rejection
    except ObjectMissing:
        photo.rejection = ImageRejected("object_missing", "the photo was deleted before it could be classified")
    except Exception as error:  # anything else may be transient: let SQS deliver it again
        return error
    return None


def _done_attributes(probabilities: np.ndarray, safety: np.ndarray | None, work: Classification) -> dict[str, Any]:
    labels = top_k(probabilities, work.class_index, work.top_k)
    verdict = work.policy.decide(probabilities, safety)
    return {
        "status": STATUS_DONE,
        "prediction": labels[0].label,
        "score": round(labels[0].score, 4),
        "labels": [{"label": label.label, "wnid": label.wnid, "score": round(label.score, 6)} for label in labels],
        "verdict": verdict.action,
        "verdict_reasons": verdict.to_dict()["reasons"],
        "policy_version": verdict.policy_version,
        "model": work.model.info.to_dict(),
        "safety": safety_result(safety, work.safety.info) if safety is not None and work.safety else None,
        "error": None,
    }


def _write(photo: _Photo, attributes: dict[str, Any], work: Classification) -> bool:
    """Stores the outcome; False if it could not be stored and the message must be retried."""
    now = iso(work.clock())
    attributes = {
        **attributes,
        "s3_key": photo.event.key,
        "source": ids.source_for_key(photo.event.key),
        "object_etag": photo.event.etag,
        "classified_at": now,
    }
    try:
        written = work.predictions.record_outcome(photo.image_id, photo.event.sequencer, attributes, now)
    except Exception:
        logger.exception("could not store the result for %s, will retry", photo.event.key)
        return False
    if not written:
        logger.info("a result for %s from the same or a newer upload is already stored", photo.event.key)
    return True
