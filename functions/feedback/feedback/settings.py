from dataclasses import dataclass

from photomod_shared import settings


@dataclass(frozen=True)
class FeedbackSettings:
    predictions_table: str
    feedback_table: str
    web_origin: str
    # The Cognito group whose members may export (the template's AnalystsGroup).
    export_group: str

    @classmethod
    def from_environment(cls) -> "FeedbackSettings":
        return cls(
            predictions_table=settings.required("PREDICTIONS_TABLE"),
            feedback_table=settings.required("FEEDBACK_TABLE"),
            web_origin=settings.required("WEB_ORIGIN"),
            export_group=settings.required("EXPORT_GROUP"),
        )
