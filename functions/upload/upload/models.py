from pydantic import BaseModel, ConfigDict, Field, field_validator

from photomod_shared.ids import has_control_characters


class UploadRequest(BaseModel):
    # Strict: a size of "123" or true is a client bug to report, not a value to guess at.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    filename: str = Field(
        min_length=1, max_length=255, description="The shopper's file name; stored, never used as a key"
    )
    content_type: str = Field(min_length=1, max_length=100, description="One of the supported image types")
    size: int = Field(gt=0, description="Size of the file in bytes")

    @field_validator("filename")
    @classmethod
    def printable_filename(cls, value: str) -> str:
        if has_control_characters(value):
            raise ValueError("filename must not contain control characters")
        return value


class PresignedPost(BaseModel):
    url: str
    fields: dict[str, str]


class UploadCreated(BaseModel):
    image_id: str
    upload: PresignedPost
    expires_in: int
    result_url: str


class PredictReply(BaseModel):
    """POST /predict's body, the original service's contract: on failure the reason is in X-Error-Code."""

    success: bool
    prediction: str | None
    score: float | None
