from dataclasses import dataclass

from photomod_shared import settings


@dataclass(frozen=True)
class ReconcileSettings:
    predictions_table: str
    images_bucket: str
    classify_queue_url: str
    # A photo pending longer than this is looked at; above the queue's own retries (visibility x receives).
    pending_after_seconds: int
    # Re-queued this many times and still pending: the photo ends failed rather than loop forever.
    max_requeues: int
    # The EventBridge bus the photos it ends failed are announced on; none without it.
    event_bus_name: str | None = None
    # The SQS queue keeping the events EventBridge refused, to be put again (photomod_shared.verdict_events).
    verdict_outbox_url: str | None = None

    @classmethod
    def from_environment(cls) -> "ReconcileSettings":
        return cls(
            predictions_table=settings.required("PREDICTIONS_TABLE"),
            images_bucket=settings.required("IMAGES_BUCKET"),
            classify_queue_url=settings.required("CLASSIFY_QUEUE_URL"),
            pending_after_seconds=settings.integer_between("PENDING_AFTER_SECONDS", 900, 10, 7 * 86400),
            max_requeues=settings.integer_between("MAX_REQUEUES", 3, 0, 100),
            event_bus_name=settings.optional("EVENT_BUS_NAME", "") or None,
            verdict_outbox_url=settings.optional("VERDICT_OUTBOX_URL", "") or None,
        )
