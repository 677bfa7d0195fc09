from dataclasses import dataclass

from feedback.limits import DEFAULT_HIDES_PER_ADDRESS
from photomod_shared import settings


@dataclass(frozen=True)
class FeedbackSettings:
    predictions_table: str
    feedback_table: str
    web_origin: str
    # The Cognito group whose members may export (the template's AnalystsGroup).
    export_group: str
    # Counters of feedback.limits (reports that may hide photos, per client address).
    report_limits_table: str
    report_hides_per_address: int
    images_bucket: str
    # The EventBridge bus a shopper's report is announced on; none without it.
    event_bus_name: str | None = None
    # The SQS queue keeping the events EventBridge refused, to be put again (photomod_shared.verdict_events).
    verdict_outbox_url: str | None = None

    @classmethod
    def from_environment(cls) -> "FeedbackSettings":
        return cls(
            predictions_table=settings.required("PREDICTIONS_TABLE"),
            feedback_table=settings.required("FEEDBACK_TABLE"),
            web_origin=settings.required("WEB_ORIGIN"),
            event_bus_name=settings.optional("EVENT_BUS_NAME", "") or None,
            verdict_outbox_url=settings.optional("VERDICT_OUTBOX_URL", "") or None,
            export_group=settings.required("EXPORT_GROUP"),
            report_limits_table=settings.required("REPORT_LIMITS_TABLE"),
            report_hides_per_address=settings.integer_between(
                "REPORT_HIDES_PER_ADDRESS", DEFAULT_HIDES_PER_ADDRESS, 1, 100_000
            ),
            images_bucket=settings.required("IMAGES_BUCKET"),
        )
