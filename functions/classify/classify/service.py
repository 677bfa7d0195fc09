"""classify_messages: one SQS batch of S3 notifications -> predictions and verdicts.

Per message the outcome is all-or-nothing: a message is reported as failed (and retried by SQS) only when
something transient went wrong for one of its photos. A photo that can never be classified is recorded as
`failed` with a reason and its message succeeds, so one bad photo never holds up its batch.

Judged bytes only: every photo is read at the object version its notification names (or, without one, the
version S3 returns), decoded once into its display rendition (classify.rendition), and the result records that
version. Both models judge the rendition's pixels (every distinct frame of an animation: the strictest verdict
wins), the rendition is stored before the result, and only the rendition is ever served.

Failure isolation (one photo must not fail its neighbours):
- decoding is bounded by a memory budget (estimated from each header), not by a thread count;
- a forward pass that raises is retried on halves of the batch until the photo behind it is found;
- a message delivered again after its batch ended without an answer (the worker crashed, e.g. out of memory)
  is a suspect: suspects are classified one at a time, each attempt counted in the photo's row first. A
  photo whose previous solo attempt never finished crashed the worker twice: it ends `failed` with its own
  reason (too_large_for_memory or crashed_classifier) and its neighbours are never held up by it;
- the function does not run into its timeout with work half done: it starts no photo or forward pass once
  the time left is under what the last such step took plus a reserve for the writes, and hands the photos
  it did not start back to SQS (at least one suspect is always tried, so every delivery makes progress).
  A short timeout (and so a short visibility timeout, which bounds how long a crash delays a batch) is
  safe even when a batch of the largest photos takes longer.
- a photo handed back unstarted does not use up its receive count (the queue's maxReceiveCount dead-letters
  a message after 5 deliveries, and a batch of large photos can hand some back several times): its message is
  sent again as a new one (`HandBacks`), carrying the deliveries that really ended without an answer (so a
  crash suspect stays a suspect) and how often it was handed back; the original then counts as handled.
  Past `MAX_HAND_BACKS`, or when the send fails, it is reported failed like any retry.
"""

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from classify.checks import Check, CheckReport, Subject, run_checks
from classify.events import MalformedNotification, PhotoEvent
from classify.imaging import ImageLimits, ImageRejected, estimated_decode_bytes
from classify.labels import ClassIndex, top_k
from classify.live_policy import LivePolicy
from classify.policy import ModerationPolicy, Verdict, severity
from classify.rendition import RenditionRules, make_rendition
from classify.safety import SafetyInfo, safety_result, second_opinion_result
from photomod_shared import ids
from photomod_shared.clock import iso, utc_now
from photomod_shared.lifecycle import CLASSIFIER_ERROR, CRASHED_CLASSIFIER, OBJECT_MISSING, TOO_LARGE_FOR_MEMORY
from photomod_shared.prediction import (
    VERDICT_ALLOW,
    EventStamp,
    Failure,
    ModelInfo,
    Prediction,
    SecondOpinionModelInfo,
    comparable_event_time,
)
from photomod_shared.publication import NoPublisher, Publisher, settle_publication
from photomod_shared.tables.roles import Outcomes
from photomod_shared.verdict_events import NoVerdictEvents, VerdictEvent, VerdictPublisher

logger = logging.getLogger(__name__)

# A photo whose decode alone is estimated at this share of the function's memory or more is called too large.
LARGE_SHARE_OF_MEMORY = 0.25
# Seconds kept back from the function's timeout for the writes and the answer.
RESERVE_S = 1.5
# A message handed back more often than this is reported failed instead (counted by SQS): no endless loop.
MAX_HAND_BACKS = 20


class ObjectMissing(Exception):
    """The notified object (or version) is no longer in the bucket."""


class ObjectRefused(Exception):
    """S3 refused to read the object (the role may not read it, or the bucket is not there): no fault of the photo."""


class OutOfTime(Exception):
    """Not started: the invocation would end before it finished. SQS delivers the message again."""


@dataclass(frozen=True)
class StoredPhoto:
    data: bytes
    version_id: str | None  # None: the bucket is not versioned


class PhotoStore(Protocol):
    def read(self, bucket: str, key: str, version_id: str | None) -> StoredPhoto: ...

    def current_version(self, bucket: str, key: str) -> str | None: ...

    def save_rendition(self, bucket: str, key: str, data: bytes) -> None: ...


class Model(Protocol):
    info: ModelInfo

    def preprocess(self, image: Any) -> np.ndarray: ...

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


class SafetyModel(Protocol):
    info: SafetyInfo

    def preprocess(self, image: Any) -> np.ndarray: ...

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


class SecondOpinion(Protocol):
    """The second explicit-content model (classify.open_nsfw): P(NSFW) per photo."""

    info: SecondOpinionModelInfo

    def preprocess(self, image: Any) -> np.ndarray: ...

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


class Telemetry(Protocol):
    """Traces and metrics (Powertools in the function; nothing in tests that do not look)."""

    def span(self, name: str) -> AbstractContextManager[Any]: ...

    def photo_classified(self, verdict: str, end_to_end_ms: float | None) -> None: ...

    def photo_failed(self, reason: str) -> None: ...

    def batch_inferred(self, size: int, inference_ms: float) -> None: ...


class NoTelemetry:
    def span(self, name: str) -> AbstractContextManager[Any]:
        return nullcontext()

    def photo_classified(self, verdict: str, end_to_end_ms: float | None) -> None:
        pass

    def photo_failed(self, reason: str) -> None:
        pass

    def batch_inferred(self, size: int, inference_ms: float) -> None:
        pass


@dataclass(frozen=True)
class Message:
    message_id: str
    body: str
    # SQS's ApproximateReceiveCount: above 1, an earlier delivery ended without an answer for this message.
    receive_count: int = 1
    # Carried over by a hand-back (HandBacks): deliveries of the earlier copies that ended without an answer,
    # and how many times the photo was handed back unstarted.
    earlier_receives: int = 0
    hand_backs: int = 0

    @property
    def unanswered_deliveries(self) -> int:
        """Deliveries before this one that ended without an answer (a crash, a transient error)."""
        return self.earlier_receives + self.receive_count - 1


class HandBacks(Protocol):
    """Sends a message handed back unstarted to the queue again, as a new message (classify.storage)."""

    def hand_back(self, message: Message) -> None: ...


@dataclass
class Pace:
    """This environment's pace, for deciding what still fits: the last read+decode, the last forward pass of a
    batch (per photo) and of one photo alone. Kept apart: one photo alone costs several times its share of
    a batch's pass, and judging a batch by it would hand back batches that fit."""

    last_load_s: float = 0.0
    batch_pass_per_photo_s: float = 0.0
    solo_pass_s: float = 0.0


@dataclass(frozen=True)
class Classification:
    """Everything classify_messages needs besides the messages: built once, at cold start (classify.app)."""

    photos: PhotoStore
    predictions: Outcomes
    model: Model
    # The built-in policy, or the one in force when a shop may replace it (classify.live_policy).
    policy: ModerationPolicy | LivePolicy
    class_index: ClassIndex
    # The photo events in a message body (classify.notifications reads S3 notifications); MalformedNotification if none.
    read_events: Callable[[str], list[PhotoEvent]]
    limits: ImageLimits = field(default_factory=ImageLimits)
    renditions: RenditionRules = field(default_factory=RenditionRules)
    top_k: int = 5
    decode_threads: int = 4
    # Estimated decoded bytes in flight at once; a photo larger than the whole budget is decoded alone.
    decode_budget_bytes: int = 1024 * 1024 * 1024
    memory_limit_bytes: int = 2048 * 1024 * 1024
    clock: Callable[[], Any] = utc_now
    # None only where running without it is allowed (a local stack before `make models`): `safety` is then null.
    safety: SafetyModel | None = None
    # None only where running without it is allowed: the policy then never blocks explicit content automatically.
    second_opinion: SecondOpinion | None = None
    # Publishes the rendition of an allowed photo, unpublishes any other outcome (photomod_shared.publication).
    publisher: Publisher = field(default_factory=NoPublisher)
    telemetry: Telemetry = field(default_factory=NoTelemetry)
    # Where each stored outcome is announced (photomod_shared.verdict_events); nothing by default.
    events: VerdictPublisher = field(default_factory=NoVerdictEvents)
    # What this environment has measured so far (the one part that changes between invocations).
    pace: Pace = field(default_factory=Pace)
    # None: photos handed back unstarted are reported failed (SQS counts the delivery).
    hand_backs: HandBacks | None = None
    # The checks beyond the models (classify.checks), run in this order on each rendition.
    checks: tuple[Check, ...] = ()


@dataclass
class _Photo:
    message_id: str
    event: PhotoEvent
    image_id: str
    receive_count: int = 1
    version_id: str | None = None
    decode_bytes: int = 0
    # One row per distinct frame a browser shows (the rendition first): (frames, 224, 224, 3) for each model.
    pixels: np.ndarray | None = None
    safety_pixels: np.ndarray | None = None
    safety_scores: np.ndarray | None = None
    second_pixels: np.ndarray | None = None
    second_scores: np.ndarray | None = None  # Open-NSFW's P(NSFW), one per judged frame
    # The policy that judges this photo (taken once, at its decode: the checks and the models judge by the same one).
    policy: ModerationPolicy | None = None
    checks: CheckReport = field(default_factory=CheckReport)
    rejection: ImageRejected | None = None

    @property
    def stamp(self) -> EventStamp:
        return EventStamp(self.event.sequencer, self.event.event_time, self.version_id or self.event.version_id)

    @property
    def attempt(self) -> str:
        """Names this upload in the row's solo-attempt counter."""
        sequencer, event_time = self.stamp.order
        return f"{sequencer}|{event_time}|{self.event.version_id or ''}"


class DecodeBudget:
    """Admits decodes while their estimated bytes fit the budget; one over the whole budget runs alone."""

    def __init__(self, limit_bytes: int):
        self._limit = limit_bytes
        self._in_use = 0
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self._in_use == 0 or self._in_use + size <= self._limit)
            self._in_use += size
        try:
            yield
        finally:
            with self._changed:
                self._in_use -= size
                self._changed.notify_all()


def classify_messages(
    messages: Iterable[Message], work: Classification, time_left_s: Callable[[], float] = lambda: math.inf
) -> list[str]:
    """Classifies every new photo in the batch; returns the ids of the messages to retry.

    `time_left_s` is the time until the invocation's timeout (Lambda's context says it). A message whose photos
    were handed back unstarted is sent again through `work.hand_backs` and is not among the ids returned.
    """
    retry: set[str] = set()
    handed: set[str] = set()
    photos: dict[str, _Photo] = {}
    messages = list(messages)
    for message in messages:
        try:
            events = work.read_events(message.body)
        except MalformedNotification:
            logger.exception(
                "malformed notification in message %s; leaving it for the dead-letter queue", message.message_id
            )
            retry.add(message.message_id)
            continue
        for event in events:
            _collect(message, event, photos)

    fresh = _new_photos(list(photos.values()), work, retry)
    suspects = sorted((photo for photo in fresh if photo.receive_count > 1), key=lambda photo: photo.event.size)
    first_time = [photo for photo in fresh if photo.receive_count <= 1]
    # Suspects first, smallest first: each is written before the next starts, so a crash loses no other result.
    for position, photo in enumerate(suspects):
        if position and time_left_s() < RESERVE_S + work.pace.last_load_s + work.pace.solo_pass_s:
            logger.warning("no time left to classify %s alone; handing it back", photo.event.key)
            handed.add(photo.message_id)
            continue
        # The first suspect is tried whatever the time: otherwise a slow photo could be handed back forever.
        _classify_alone(photo, work, retry, handed, time_left_s if position else lambda: math.inf)
    if first_time:
        _classify_together(first_time, work, retry, handed, time_left_s)
    return sorted(retry | _failed_hand_backs(messages, handed - retry, work))


def _failed_hand_backs(messages: list[Message], handed: set[str], work: Classification) -> set[str]:
    """Sends the handed-back messages again as new ones; returns the ids of those that must be retried instead."""
    failed = set()
    for message in messages:
        if message.message_id not in handed:
            continue
        if work.hand_backs is None or message.hand_backs >= MAX_HAND_BACKS:
            failed.add(message.message_id)
            continue
        try:
            work.hand_backs.hand_back(message)
        except Exception:
            logger.exception("could not hand message %s back; it is retried instead", message.message_id)
            failed.add(message.message_id)
    return failed


def _collect(message: Message, event: PhotoEvent, photos: dict[str, _Photo]) -> None:
    try:
        image_id = ids.image_id_for_key(event.key)
    except ids.UnrecognisedKey:
        logger.warning("ignoring object outside the classified prefixes: %r", event.key)
        return
    photo = _Photo(message.message_id, event, image_id, receive_count=message.unanswered_deliveries + 1)
    known = photos.get(image_id)
    # Several notifications of one key in a batch: keep the newest upload's.
    if known is None or photo.stamp.compare(known.stamp) > 0:
        photos[image_id] = photo


def _new_photos(photos: list[_Photo], work: Classification, retry: set[str]) -> list[_Photo]:
    """Leaves out events whose result (or a newer one) is already stored: no inference is wasted on them."""
    if not photos:
        return []
    try:
        stored = work.predictions.stored_events([photo.image_id for photo in photos])
    except Exception:
        logger.exception("could not read stored predictions, will retry the batch")
        retry.update(photo.message_id for photo in photos)
        return []
    fresh = []
    for photo in photos:
        known = stored.get(photo.image_id)
        if known is None or _supersedes(photo, known, work, retry):
            fresh.append(photo)
        else:
            logger.info("duplicate or late notification for %s ignored", photo.event.key)
    return fresh


def _supersedes(photo: _Photo, known: EventStamp, work: Classification, retry: set[str]) -> bool:
    """Whether this upload replaces the stored result's (EventStamp's ordering rule): a version already judged
    is never judged again, whatever order a re-delivery or the reconciler's re-send claims."""
    if photo.stamp.is_duplicate_of(known):
        return False
    order = photo.stamp.compare(known)
    if order != 0:
        return order > 0
    # Same sequencer and event time, another version (LocalStack's constant sequencer within one millisecond):
    # the bucket knows which upload came last. Only the key's current version is judged.
    try:
        current = work.photos.current_version(photo.event.bucket, photo.event.key)
    except ObjectMissing:
        return False
    except Exception:
        logger.exception("could not read the current version of %s, will retry", photo.event.key)
        retry.add(photo.message_id)
        return False
    return current == photo.event.version_id


# ---------------------------------------------------------------------------- a batch, together


def _classify_together(
    photos: list[_Photo], work: Classification, retry: set[str], handed: set[str], time_left_s: Callable[[], float]
) -> None:
    budget = DecodeBudget(work.decode_budget_bytes)
    with ThreadPoolExecutor(max_workers=max(1, work.decode_threads)) as pool:
        admission = Admission(work.pace, time_left_s)
        loads = pool.map(lambda photo: _load(photo, work, budget, time_left_s, admission), photos)
        for photo, outcome in zip(photos, loads, strict=True):
            if isinstance(outcome, OutOfTime):
                logger.warning("no time left to start %s; handing it back", photo.event.key)
                handed.add(photo.message_id)
            elif outcome is not None:
                logger.warning("could not read %s, will retry: %r", photo.event.key, outcome)
                retry.add(photo.message_id)

        decoded = [photo for photo in photos if photo.pixels is not None and photo.message_id not in retry]
        fits = _photos_that_fit(len(decoded), time_left_s(), work)
        if fits < len(decoded):
            logger.warning("no time left to classify %d photo(s); handing them back", len(decoded) - fits)
            handed.update(photo.message_id for photo in decoded[fits:])
            decoded = decoded[:fits]
        outcomes: list[tuple[_Photo, Prediction]] = []
        for photo, row in _predict_isolating(decoded, work):
            if row is None:
                logger.error("the forward pass fails for %s alone; retrying it on its own", photo.event.key)
                retry.add(photo.message_id)
            else:
                outcomes.append((photo, _done(photo, row, work)))
        outcomes.extend((photo, _failed(photo, photo.rejection, work)) for photo in photos if photo.rejection)
        outcomes = _unpublish_hidden(outcomes, work, retry)
        # Conditional writes cannot be batched; in parallel they cost one round trip instead of one per photo.
        stored = pool.map(lambda outcome: _write(outcome[0], outcome[1], work, unpublished=True), outcomes)
        retry.update(photo.message_id for (photo, _), written in zip(outcomes, stored, strict=True) if not written)


def _unpublish_hidden(
    outcomes: list[tuple[_Photo, Prediction]], work: Classification, retry: set[str]
) -> list[tuple[_Photo, Prediction]]:
    """Unpublishes every photo of the batch whose outcome hides it, before any is stored (one CDN invalidation for
    all); if that fails, those photos are retried and only the allowed ones go on."""
    hidden = [photo for photo, outcome in outcomes if not _allowed(outcome)]
    if not hidden:
        return outcomes
    try:
        work.publisher.unpublish_many([photo.image_id for photo in hidden])
    except Exception:
        logger.exception("could not unpublish %d photo(s), will retry them", len(hidden))
        retry.update(photo.message_id for photo in hidden)
        return [(photo, outcome) for photo, outcome in outcomes if _allowed(outcome)]
    return outcomes


def _photos_that_fit(count: int, time_left: float, work: Classification) -> int:
    """How many decoded photos one forward pass can take and still leave the reserve for the writes."""
    if math.isinf(time_left):  # no deadline (no Lambda context: benchmarks, scripts)
        return count
    if work.pace.batch_pass_per_photo_s <= 0 or count <= 1:
        return count if count <= 1 or time_left >= RESERVE_S + work.pace.batch_pass_per_photo_s else 0
    return max(0, min(count, int((time_left - RESERVE_S) / work.pace.batch_pass_per_photo_s)))


def _predict_isolating(photos: list[_Photo], work: Classification) -> list[tuple[_Photo, np.ndarray | None]]:
    """Class probabilities per photo (one row per judged frame), one forward pass when it works; when it raises,
    the halves are tried again until the photo that breaks it stands alone (its rows are None)."""
    if not photos:
        return []
    try:
        with work.telemetry.span("inference"):
            started = time.perf_counter()
            # Every frame of every photo in one pass; split back per photo by its frame count.
            ends = np.cumsum([len(photo.pixels) for photo in photos])[:-1]  # type: ignore[arg-type]
            rows = np.split(work.model.predict(np.concatenate([photo.pixels for photo in photos])), ends)  # type: ignore[misc]
            if work.safety is not None:
                safety_rows = work.safety.predict(np.concatenate([photo.safety_pixels for photo in photos]))  # type: ignore[misc]
                for photo, safety_row in zip(photos, np.split(safety_rows, ends), strict=True):
                    photo.safety_scores = safety_row
            if work.second_opinion is not None:
                second_rows = work.second_opinion.predict(np.concatenate([photo.second_pixels for photo in photos]))  # type: ignore[misc]
                for photo, second_row in zip(photos, np.split(second_rows, ends), strict=True):
                    photo.second_scores = second_row
            elapsed = time.perf_counter() - started
            if len(photos) > 1:
                work.pace.batch_pass_per_photo_s = elapsed / len(photos)
            else:
                work.pace.solo_pass_s = elapsed
            work.telemetry.batch_inferred(len(photos), elapsed * 1000)
        return list(zip(photos, rows, strict=True))
    except Exception:
        logger.exception("forward pass over %d photo(s) failed", len(photos))
        if len(photos) == 1:
            return [(photos[0], None)]
    middle = len(photos) // 2
    return _predict_isolating(photos[:middle], work) + _predict_isolating(photos[middle:], work)


# ---------------------------------------------------------------------------- a suspect, alone


def _classify_alone(
    photo: _Photo, work: Classification, retry: set[str], handed: set[str], time_left_s: Callable[[], float]
) -> None:
    """Classifies a photo whose earlier delivery ended without an answer, with nothing else in memory."""
    try:
        first = Prediction.pending(
            photo.image_id,
            s3_key=photo.event.key,
            source=ids.source_for_key(photo.event.key),
            created_at=iso(work.clock()),
        )
        attempts = work.predictions.count_solo_attempt(photo.attempt, first)
    except Exception:
        logger.exception("could not count the attempt for %s, will retry", photo.event.key)
        retry.add(photo.message_id)
        return
    if attempts > 1:
        # The previous solo attempt never finished: the photo brought the worker down twice.
        photo.decode_bytes = photo.decode_bytes or _estimate_from_store(photo, work)
        code = TOO_LARGE_FOR_MEMORY if _is_large(photo, work) else CRASHED_CLASSIFIER
        logger.error("%s crashed the classifier twice; recording it as failed (%s)", photo.event.key, code)
        if not _write(photo, _crashed(code, photo, work), work):
            retry.add(photo.message_id)
        return
    unread = _load(photo, work, DecodeBudget(work.decode_budget_bytes), time_left_s)
    if unread is not None:
        _forget_attempts(photo, work)
        if isinstance(unread, OutOfTime):
            logger.warning("no time left to start %s alone; handing it back", photo.event.key)
            handed.add(photo.message_id)
        else:
            logger.warning("could not read %s, will retry: %r", photo.event.key, unread)
            retry.add(photo.message_id)
        return
    if photo.rejection is not None:
        outcome = _failed(photo, photo.rejection, work)
    else:
        [(_, row)] = _predict_isolating([photo], work)
        if row is None:
            # Failed in its batch and again alone: it will not pass. Its own reason, not its neighbours'.
            error = ImageRejected(CLASSIFIER_ERROR, "the classifier fails on this photo, alone and in its batch")
            outcome = _failed(photo, error, work)
        else:
            outcome = _done(photo, row, work)
    if not _write(photo, outcome, work):
        _forget_attempts(photo, work)
        retry.add(photo.message_id)


def _forget_attempts(photo: _Photo, work: Classification) -> None:
    try:
        work.predictions.forget_solo_attempts(photo.image_id)
    except Exception:
        logger.exception("could not reset the attempt count of %s", photo.event.key)


def _is_large(photo: _Photo, work: Classification) -> bool:
    return photo.decode_bytes >= LARGE_SHARE_OF_MEMORY * work.memory_limit_bytes


def _estimate_from_store(photo: _Photo, work: Classification) -> int:
    try:
        stored = work.photos.read(photo.event.bucket, photo.event.key, photo.event.version_id)
    except Exception:
        return 0
    photo.version_id = stored.version_id
    return estimated_decode_bytes(stored.data)


def _crashed(code: str, photo: _Photo, work: Classification) -> Prediction:
    size = f" (decoding it takes about {photo.decode_bytes // (1024 * 1024)} MiB)" if photo.decode_bytes else ""
    messages = {
        TOO_LARGE_FOR_MEMORY: f"the photo is too large to classify within the classifier's memory{size}",
        CRASHED_CLASSIFIER: f"the classifier crashed twice on this photo{size}",
    }
    return _failed(photo, ImageRejected(code, messages[code]), work)


# ---------------------------------------------------------------------------- shared steps


class Admission:
    """Starts a batch's photo only while its read and decode, and the forward pass of every photo started so far
    and of this one, still fit before the reserve: decodes never use up the time the pass needs (a batch that
    decodes until its deadline and then hands everything back makes no progress). The first photo always starts.
    """

    def __init__(self, pace: Pace, time_left_s: Callable[[], float]):
        self._pace, self._time_left_s = pace, time_left_s
        self._started = 0
        self._lock = threading.Lock()

    def admit(self) -> bool:
        pace = self._pace
        # Unmeasured yet, a decode stands in for a photo's share of the pass (not a pass alone: that costs
        # several times a photo's share of a batch's, and would hand back batches that fit).
        per_photo = pace.batch_pass_per_photo_s or pace.last_load_s
        with self._lock:
            needed = RESERVE_S + pace.last_load_s + (self._started + 1) * per_photo
            if self._started and self._time_left_s() < needed:
                return False
            self._started += 1
            return True


def _load(
    photo: _Photo,
    work: Classification,
    budget: DecodeBudget,
    time_left_s: Callable[[], float] = lambda: math.inf,
    admission: Admission | None = None,
) -> Exception | None:
    """Reads and decodes one photo; returns the exception to retry on, if any (OutOfTime: not started)."""
    try:
        if admission is not None and not admission.admit():
            raise OutOfTime(photo.event.key)
        if time_left_s() < RESERVE_S + work.pace.batch_pass_per_photo_s:
            raise OutOfTime(photo.event.key)
        started = time.perf_counter()
        with work.telemetry.span("s3_read"):
            stored = work.photos.read(photo.event.bucket, photo.event.key, photo.event.version_id)
        photo.version_id = stored.version_id
        photo.decode_bytes = estimated_decode_bytes(stored.data)
        read_s = time.perf_counter() - started
        with budget.reserve(photo.decode_bytes), work.telemetry.span("decode"):
            started = time.perf_counter()  # the wait for the budget is not this photo's own pace
            # One decode, one rendition, the checks on it, the models: each model gets every judged frame
            # preprocessed its own way.
            photo.policy = work.policy.current()
            rendition = make_rendition(
                stored.data,
                lambda image: model_inputs(image, work),
                work.limits,
                work.renditions,
                inspect=lambda shown: _inspect(photo, shown, work),
            )
            photo.pixels = np.stack([resnet for resnet, _, _ in rendition.judged])
            if work.safety is not None:
                photo.safety_pixels = np.stack([safety for _, safety, _ in rendition.judged])  # type: ignore[misc]
            if work.second_opinion is not None:
                photo.second_pixels = np.stack([second for _, _, second in rendition.judged])  # type: ignore[misc]
        with work.telemetry.span("s3_write_rendition"):
            # Stored before the result: a `done` row always has its rendition to serve.
            work.photos.save_rendition(
                photo.event.bucket, ids.rendition_key(photo.image_id, photo.version_id), rendition.data
            )
        work.pace.last_load_s = read_s + time.perf_counter() - started
    except ImageRejected as rejection:
        photo.rejection = rejection
    except ObjectMissing:
        photo.rejection = ImageRejected(OBJECT_MISSING.code, OBJECT_MISSING.message)
    except MemoryError:
        photo.rejection = ImageRejected(TOO_LARGE_FOR_MEMORY, "the photo is too large to decode in memory")
    except Exception as error:  # anything else may be transient: let SQS deliver it again
        return error
    return None


def _inspect(photo: _Photo, shown: Any, work: Classification) -> Any:
    """Runs the checks on the rendition's pixels; returns the pixels to serve (retouched or not)."""
    if not work.checks:
        return shown
    assert photo.policy is not None
    with work.telemetry.span("checks"):
        photo.checks, served = run_checks(work.checks, Subject(photo.image_id, photo.event.key, shown), photo.policy)
    return served


def model_inputs(image: Any, work: Classification) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Every model's input from one judged frame: the classifier's, nsfwjs' and the second opinion's."""
    return (
        work.model.preprocess(image),
        work.safety.preprocess(image) if work.safety is not None else None,
        work.second_opinion.preprocess(image) if work.second_opinion is not None else None,
    )


def _second_score(photo: _Photo, frame: int) -> float | None:
    return float(photo.second_scores[frame]) if photo.second_scores is not None else None


def _strictest_frame(photo: _Photo, rows: np.ndarray, work: Classification) -> tuple[int, Verdict]:
    """The judged frame whose verdict is the strictest (the first of equals: the rendition itself when none is
    stricter), and that verdict."""
    chosen, strictest = 0, None
    policy = photo.policy or work.policy.current()
    for frame, probabilities in enumerate(rows):
        safety = photo.safety_scores[frame] if photo.safety_scores is not None else None
        verdict = policy.decide(probabilities, safety, _second_score(photo, frame))
        if strictest is None or severity(verdict.action) > severity(strictest.action):
            chosen, strictest = frame, verdict
    assert strictest is not None  # every photo has its rendition's frame
    return chosen, strictest


def _done(photo: _Photo, rows: np.ndarray, work: Classification) -> Prediction:
    """The result of the strictest frame: its verdict, labels and both explicit models' scores (the rendition's own
    when every frame gets the same verdict)."""
    frame, verdict = _strictest_frame(photo, rows, work)
    verdict = verdict.with_reasons(photo.checks.reasons)
    probabilities = rows[frame]
    safety = photo.safety_scores[frame] if photo.safety_scores is not None else None
    second_score = _second_score(photo, frame)
    second = (
        second_opinion_result(second_score, work.second_opinion.info)
        if second_score is not None and work.second_opinion
        else None
    )
    labels = top_k(probabilities, work.class_index, work.top_k)
    return Prediction.done(
        photo.image_id,
        s3_key=photo.event.key,
        object_etag=photo.event.etag,
        prediction=labels[0].label,
        score=round(labels[0].score, 4),
        labels=[label.model_copy(update={"score": round(label.score, 6)}) for label in labels],
        verdict=verdict.action,
        verdict_reasons=list(verdict.reasons),
        policy_version=verdict.policy_version,
        model=work.model.info,
        safety=safety_result(safety, work.safety.info, second) if safety is not None and work.safety else None,
        checks=photo.checks.records,
    )


def _failed(photo: _Photo, rejection: ImageRejected | None, work: Classification) -> Prediction:
    return Prediction.failed(
        photo.image_id,
        s3_key=photo.event.key,
        object_etag=photo.event.etag,
        error=Failure(rejection.code, rejection.message) if rejection else None,
        model=work.model.info,
    )


def _write(photo: _Photo, outcome: Prediction, work: Classification, *, unpublished: bool = False) -> bool:
    """Publishes or unpublishes the photo, then stores the outcome; False if either failed and the message must be
    retried. Both come first (photomod_shared.publication): a stored `allow` is always published (a failed publish
    stores nothing, so the retry judges and publishes again), a stored hiding outcome never is. `unpublished`: the
    batch already unpublished it (one CDN invalidation for all)."""
    classified_at = work.clock()
    now = iso(classified_at)
    outcome = outcome.classified(now)
    allowed = _allowed(outcome)
    try:
        with work.telemetry.span("write"):
            if allowed:
                work.publisher.publish(photo.image_id, photo.version_id)
            elif not unpublished:
                work.publisher.unpublish(photo.image_id)  # before the outcome that hides it: fail closed
            written = work.predictions.record_outcome(outcome, photo.stamp, now)
            if not written:
                # The same or a newer upload's result is stored: what is published follows it, not this outcome.
                settle_publication(photo.image_id, work.predictions.get(photo.image_id), work.publisher)
    except Exception:
        logger.exception("could not publish or store the result for %s, will retry", photo.event.key)
        return False
    if not written:
        logger.info("a result for %s from the same or a newer upload is already stored", photo.event.key)
        return True
    work.events.publish(VerdictEvent.outcome(outcome.replaced(object_version=photo.stamp.object_version)))
    if outcome.is_done:
        work.telemetry.photo_classified(str(outcome.verdict), _since_upload_ms(photo, classified_at))
    else:
        work.telemetry.photo_failed(outcome.error.code if outcome.error else "unknown")
    return True


def _allowed(outcome: Prediction) -> bool:
    return outcome.is_done and outcome.verdict == VERDICT_ALLOW


def _since_upload_ms(photo: _Photo, classified_at: Any) -> float | None:
    """Milliseconds from the upload (the S3 event's time) to the stored result."""
    event_time = comparable_event_time(photo.event.event_time)
    if not event_time or not isinstance(classified_at, datetime):
        return None
    uploaded = datetime.fromisoformat(event_time)
    return max(0.0, (classified_at - uploaded).total_seconds() * 1000)
