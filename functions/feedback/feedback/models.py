from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from photomod_shared.ids import has_control_characters


class FeedbackRequest(BaseModel):
    # Strict: "inappropriate": "yes" is a client bug to report, not a value to guess at.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    correct_label: str = Field(
        default="", max_length=200, description="What the photo really shows; may be empty only in a report"
    )
    comment: str = Field(default="", max_length=1000)
    inappropriate: bool = Field(
        default=False,
        description="The photo should not be shown: it goes back to the moderators' review queue and is hidden "
        "until a moderator decides (reports of a photo a moderator already allowed are only counted)",
    )

    @field_validator("correct_label")
    @classmethod
    def single_line(cls, value: str) -> str:
        if has_control_characters(value):
            raise ValueError("correct_label must not contain control characters")
        return value

    @model_validator(mode="after")
    def says_something(self) -> Self:
        # A shopper who reports a photo may not know what it shows; otherwise the label is the feedback.
        if not self.correct_label and not self.inappropriate:
            raise ValueError("correct_label is required unless the photo is reported as inappropriate")
        return self


class FeedbackRecorded(BaseModel):
    feedback_id: str
    image_id: str
    created_at: str
    sent_to_review: bool = Field(description="This report sent the photo to the moderators' review queue")
