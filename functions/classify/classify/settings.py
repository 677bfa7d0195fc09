from typing import Annotated

from pydantic import AfterValidator, Field

from classify.imaging import ANTIALIASED_RESIZE_METHODS, DEFAULT_RESIZE_METHOD, ImageLimits
from classify.model import CLASSIFIERS, RESNET50, RUNTIME_LITERT, RUNTIMES
from classify.rendition import RenditionRules
from photomod_shared.settings import OptionalText, PublishingSettings, Text, VerdictEventSettings, one_of

MIB = 1024 * 1024
_IMAGE_LIMITS = ImageLimits()
_RENDITIONS = RenditionRules()


class ClassifySettings(VerdictEventSettings, PublishingSettings):
    """The classifier's (ClassifyFunction) and DetectModerationLabels' (RekognitionFunction) environment."""

    # Where a photo handed back unstarted is sent again (classify.storage.ClassifyQueue).
    classify_queue_url: Text
    # Which ImageNet network judges (classify.model.CLASSIFIERS): the template's Classifier parameter.
    classifier: Annotated[str, AfterValidator(one_of(CLASSIFIERS))] = RESNET50
    model_runtime: Annotated[str, AfterValidator(one_of(RUNTIMES))] = RUNTIME_LITERT
    model_weights_path: OptionalText = None
    served_model_path: OptionalText = None
    allow_untrained_weights: bool = False
    safety_model_path: OptionalText = None
    # Both explicit-content models: nsfwjs (SAFETY_MODEL_PATH) and Open-NSFW, the second opinion.
    allow_missing_safety_model: bool = False
    open_nsfw_model_path: OptionalText = None
    # The faces check's model (classify.faces); ALLOW_MISSING_FACE_MODEL: run without the check (a local stack).
    face_model_path: OptionalText = None
    allow_missing_face_model: bool = False
    # Only filters that read every pixel: nearest (Keras' default) reads a fixed few pixels of a large photo, and
    # an attacker could steer it.
    resize_method: Annotated[str, AfterValidator(one_of(ANTIALIASED_RESIZE_METHODS))] = DEFAULT_RESIZE_METHOD
    max_image_bytes: int = Field(_IMAGE_LIMITS.max_bytes, ge=1)
    min_image_side: int = Field(_IMAGE_LIMITS.min_side, ge=1)
    max_image_pixels: int = Field(_IMAGE_LIMITS.max_pixels, ge=1)
    rendition_long_side: int = Field(_RENDITIONS.long_side, ge=224, le=8192)
    rendition_max_frames: int = Field(_RENDITIONS.max_frames, ge=1, le=1000)
    decode_threads: int = Field(4, ge=1)
    # Estimated decoded MiB in flight at once (classify.service.DecodeBudget); a third of the function's memory by
    # default: the model and its activations need the rest.
    decode_budget_mb: int | None = Field(None, ge=1)
    # Lambda sets it from the function's MemorySize.
    aws_lambda_function_memory_size: int = Field(2048, ge=1)
    # The shop's own policy document (SSM Parameter Store); without it, only the built-in policy.
    policy_parameter: OptionalText = None
    policy_cache_seconds: int = Field(60, ge=1, le=3600)
    # The photo-bank check (classify.photo_bank): the bank of moderators' blocks and the index of every photo's
    # hash; without them the hash is still recorded, but nothing is matched (DetectModerationLabels: no index).
    photo_bank_table: OptionalText = None
    photo_hash_index_table: OptionalText = None

    @property
    def limits(self) -> ImageLimits:
        return ImageLimits(
            max_bytes=self.max_image_bytes, min_side=self.min_image_side, max_pixels=self.max_image_pixels
        )

    @property
    def renditions(self) -> RenditionRules:
        return RenditionRules(long_side=self.rendition_long_side, max_frames=self.rendition_max_frames)

    @property
    def memory_limit_bytes(self) -> int:
        return self.aws_lambda_function_memory_size * MIB

    @property
    def decode_budget_bytes(self) -> int:
        return (self.decode_budget_mb or max(1, self.aws_lambda_function_memory_size // 3)) * MIB
