from dataclasses import dataclass

from photomod_shared import settings


@dataclass(frozen=True)
class FeedbackSettings:
    predictions_table: str
    feedback_table: str
    web_origin: str
    images_bucket: str
    # The EventBridge bus a shopper's report is announced on; none without it.
    event_bus_name: str | None = None

    @classmethod
    def from_environment(cls) -> "FeedbackSettings":
        return cls(
            predictions_table=settings.required("PREDICTIONS_TABLE"),
            feedback_table=settings.required("FEEDBACK_TABLE"),
            web_origin=settings.required("WEB_ORIGIN"),
            event_bus_name=settings.optional("EVENT_BUS_NAME", "") or None,
            images_bucket=settings.required("IMAGES_BUCKET"),
        )
