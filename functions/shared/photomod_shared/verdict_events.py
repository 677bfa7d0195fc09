"""Verdict events: every final outcome of a photo, put on the stack's EventBridge bus for a shop's backend.

One shape (VerdictEvent) for the four outcomes, each its own detail-type (docs/integrations.md):

- `Photo Judged`: the classifier's verdict (allow, review, block) with its reasons and policy version;
- `Photo Failed`: the photo can never be judged (its error code and message; the classifier, the dead-letter
  consumer or the reconciler);
- `Photo Decided`: a moderator settled a photo in review (allow or block);
- `Photo Reported`: a shopper reported a photo as inappropriate (sent back to review, or only counted).

Delivery is at least once: a consumer de-duplicates by `detail.event_id`, the same for every copy of one outcome
(derived from the image, its judged version, the outcome and its time). The publisher takes its clients in
`__init__` (no boto3 import here); a photo's outcome is stored before its event is put, and is never undone for it.

An event EventBridge refuses (FailedEntryCount > 0, throttling after the SDK's retries, an outage) goes to the
outbox (VerdictOutbox: an SQS queue, VerdictOutboxQueue) exactly as it would have been put; the outbox's drainer
(reconcile.outbox) puts it again until EventBridge accepts it, so its `event_id` never changes. Only when the outbox
cannot take it either is the event lost (logged `verdict event lost`, with its event_id); the outcome stays readable
at GET /predictions/{id}.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from photomod_shared.prediction import Prediction

logger = logging.getLogger(__name__)

SOURCE = "photomod"
JUDGED = "Photo Judged"
FAILED = "Photo Failed"
DECIDED = "Photo Decided"
REPORTED = "Photo Reported"
DETAIL_TYPES = (JUDGED, FAILED, DECIDED, REPORTED)
SCHEMA_VERSION = "1"
_ID_NAMESPACE = uuid.UUID("6f1c2b0e-6a3e-4a8e-9a57-70686f746f6d")


@dataclass(frozen=True)
class VerdictEvent:
    detail_type: str
    image_id: str
    object_version: str | None
    s3_key: str | None
    verdict: str | None  # allow, review, block; None for a failed photo
    reasons: list[dict[str, Any]]
    policy_version: str | None
    occurred_at: str
    error: dict[str, str] | None = None
    model_verdict: str | None = None  # the classifier's verdict, where a person's differs
    moderation: dict[str, Any] | None = None  # Photo Decided: decision, note, decided_at
    report: dict[str, Any] | None = field(default=None)  # Photo Reported: sent_to_review, reported_at

    @property
    def event_id(self) -> str:
        """The same for every copy of one outcome: what a consumer de-duplicates by."""
        name = "|".join((self.detail_type, self.image_id, self.object_version or "", self.occurred_at))
        return str(uuid.uuid5(_ID_NAMESPACE, name))

    def detail(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id,
            "image_id": self.image_id,
            "object_version": self.object_version,
            "s3_key": self.s3_key,
            "verdict": self.verdict,
            "reasons": self.reasons,
            "policy_version": self.policy_version,
            "model_verdict": self.model_verdict,
            "error": self.error,
            "moderation": self.moderation,
            "report": self.report,
            "occurred_at": self.occurred_at,
        }

    @classmethod
    def outcome(cls, prediction: Prediction) -> VerdictEvent:
        """The classifier's final outcome (a done or failed prediction, as stored)."""
        done = prediction.status == "done"
        return cls(
            detail_type=JUDGED if done else FAILED,
            image_id=prediction.image_id,
            object_version=prediction.object_version,
            s3_key=prediction.s3_key,
            verdict=prediction.verdict if done else None,
            reasons=_reasons(prediction) if done else [],
            policy_version=prediction.policy_version if done else None,
            occurred_at=prediction.classified_at or "",
            error=prediction.error.model_dump() if prediction.error else None,
        )

    @classmethod
    def decided(cls, prediction: Prediction, decision: str, note: str, decided_at: str) -> VerdictEvent:
        """A moderator's decision on `prediction` (the row as it was in review)."""
        return cls(
            detail_type=DECIDED,
            image_id=prediction.image_id,
            object_version=prediction.object_version,
            s3_key=prediction.s3_key,
            verdict=decision,
            reasons=_reasons(prediction),
            policy_version=prediction.policy_version,
            occurred_at=decided_at,
            model_verdict=prediction.model_verdict or prediction.verdict,
            moderation={"decision": decision, "note": note, "decided_at": decided_at},
        )

    @classmethod
    def reported(cls, prediction: Prediction, reported_at: str, sent_to_review: bool) -> VerdictEvent:
        """A shopper's report; the verdict is the photo's after it (review when it was sent back to review)."""
        return cls(
            detail_type=REPORTED,
            image_id=prediction.image_id,
            object_version=prediction.object_version,
            s3_key=prediction.s3_key,
            verdict="review" if sent_to_review else prediction.verdict,
            reasons=_reasons(prediction),
            policy_version=prediction.policy_version,
            occurred_at=reported_at,
            model_verdict=prediction.model_verdict or prediction.verdict,
            report={"sent_to_review": sent_to_review, "reported_at": reported_at},
        )


class VerdictPublisher(Protocol):
    def publish(self, event: VerdictEvent) -> bool: ...


class NoVerdictEvents:
    """Where no bus is configured (tests, scripts): nothing is sent."""

    def publish(self, event: VerdictEvent) -> bool:
        return True


class EventRefused(Exception):
    """EventBridge did not take an entry (its error code and message, or why it could not be reached)."""


def put_entry(client: Any, entry: dict[str, Any]) -> None:
    """PutEvents of one entry; raises EventRefused unless EventBridge accepted it."""
    try:
        answer = client.put_events(Entries=[entry])
    except Exception as error:  # throttling past the SDK's retries, an outage, a bad request
        raise EventRefused(repr(error)) from error
    if answer.get("FailedEntryCount", 0):
        refusal = (answer.get("Entries") or [{}])[0]
        raise EventRefused(f"{refusal.get('ErrorCode', '')}: {refusal.get('ErrorMessage', '')}")


class VerdictOutbox:
    """Adapter over the SQS queue that keeps the events EventBridge refused, for the drainer to put again."""

    def __init__(self, sqs_client: Any, queue_url: str):
        self._sqs = sqs_client
        self._queue_url = queue_url

    def keep(self, entry: dict[str, Any]) -> bool:
        """True once the queue holds the entry; False (never raised) when it could not take it."""
        try:
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(entry))
        except Exception:
            logger.exception("the verdict outbox refused an event")
            return False
        return True


class VerdictBus:
    """Adapter over EventBridge PutEvents on one bus; what it refuses goes to the outbox, if there is one."""

    def __init__(self, client: Any, bus_name: str, outbox: VerdictOutbox | None = None):
        self._client = client
        self._bus_name = bus_name
        self._outbox = outbox

    def entry(self, event: VerdictEvent) -> dict[str, Any]:
        """The PutEvents entry of an event: what is put now, or kept in the outbox and put later, unchanged."""
        return {
            "Source": SOURCE,
            "DetailType": event.detail_type,
            "Detail": json.dumps(event.detail(), default=str),
            "EventBusName": self._bus_name,
            "Resources": [],
        }

    def publish(self, event: VerdictEvent) -> bool:
        """Puts the event; False (logged, never raised) when EventBridge did not take it now."""
        entry = self.entry(event)
        try:
            put_entry(self._client, entry)
            return True
        except EventRefused as refused:
            kept = self._outbox is not None and self._outbox.keep(entry)
            details = {"event_id": event.event_id, "image_id": event.image_id, "reason": str(refused)}
            if kept:
                logger.warning("verdict event not sent; kept in the outbox to be put again", extra=details)
            else:
                logger.error("verdict event not sent; verdict event lost (no outbox took it)", extra=details)
            return False


def _reasons(prediction: Prediction) -> list[dict[str, Any]]:
    """The reasons as the event carries them: the stored record's (`Prediction.to_item`)."""
    return [reason.model_dump() for reason in prediction.verdict_reasons or []]


def verdict_publisher(bus_name: str | None, outbox_url: str | None, client: Callable[[str], Any]) -> VerdictPublisher:
    """The bus named by the function's EVENT_BUS_NAME, with the outbox of its VERDICT_OUTBOX_URL if any (clients
    built by `client(service_name)`, e.g. boto3.client), or no events without a bus."""
    if not bus_name:
        return NoVerdictEvents()
    outbox = VerdictOutbox(client("sqs"), outbox_url) if outbox_url else None
    return VerdictBus(client("events"), bus_name, outbox)
