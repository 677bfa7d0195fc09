from pydantic import BaseModel, ConfigDict, Field, field_validator

from photomod_shared.ids import has_control_characters


class FeedbackRequest(BaseModel):
    # Strict: "inappropriate": "yes" is a client bug to report, not a value to guess at.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    correct_label: str = Field(min_length=1, max_length=200, description="What the photo really shows")
    comment: str = Field(default="", max_length=1000)
    inappropriate: bool = Field(default=False, description="The photo should not be shown, whatever the model said")

    @field_validator("correct_label")
    @classmethod
    def single_line(cls, value: str) -> str:
        if has_control_characters(value):
            raise ValueError("correct_label must not contain control characters")
        return value


class FeedbackRecorded(BaseModel):
    feedback_id: str
    image_id: str
    created_at: str
