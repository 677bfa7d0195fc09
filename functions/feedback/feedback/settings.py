from dataclasses import dataclass

from photomod_shared import settings


@dataclass(frozen=True)
class FeedbackSettings:
    predictions_table: str
    feedback_table: str
    web_origin: str
    images_bucket: str

    @classmethod
    def from_environment(cls) -> "FeedbackSettings":
        return cls(
            predictions_table=settings.required("PREDICTIONS_TABLE"),
            feedback_table=settings.required("FEEDBACK_TABLE"),
            web_origin=settings.required("WEB_ORIGIN"),
            images_bucket=settings.required("IMAGES_BUCKET"),
        )
