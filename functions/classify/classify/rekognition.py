"""DetectModerationLabels as Amazon Rekognition's JSON 1.1 API speaks it, judged by our models and policy.

A shop that calls Rekognition today switches by changing the client's `endpoint_url` (docs/integrations.md). The
request is parsed and validated the way Rekognition documents it, the photo judged synchronously
(classify.judging), and the result mapped onto Rekognition's published moderation taxonomy (its top-level and
second-level names); errors carry Rekognition's exception names, so the SDKs raise the same classes.

Hand-written because no library serves an AWS JSON 1.1 API; the shapes follow botocore's service model
(`rekognition` 2016-06-27), which the tests read back through boto3's own client.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from classify.imaging import ImageRejected
from classify.judging import JudgedPhoto
from classify.safety import SAFETY_CLASSES
from classify.service import ObjectMissing, ObjectRefused, StoredPhoto

TARGET = "RekognitionService.DetectModerationLabels"
CONTENT_TYPE = "application/x-amz-json-1.1"
# Rekognition's own limit on Image.Bytes (botocore's model: ImageBlob max). Through Lambda the whole request must
# also fit its 6 MB synchronous payload: base64 makes 4 bytes of 3, so about 4.4 MB of photo in practice.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
DEFAULT_MIN_CONFIDENCE = 50.0
UNSUPPORTED_PARAMETERS = ("HumanLoopConfig", "ProjectVersion")
_KNOWN_PARAMETERS = {"Image", "MinConfidence", *UNSUPPORTED_PARAMETERS}

# Rekognition's exception names and the HTTP status its API reference gives each.
STATUS = {
    "InvalidImageFormatException": 400,
    "ImageTooLargeException": 400,
    "InvalidS3ObjectException": 400,
    "InvalidParameterException": 400,
    "AccessDeniedException": 400,
    "ProvisionedThroughputExceededException": 400,
    "ThrottlingException": 500,
    "InternalServerError": 500,
}

# Our failure codes (classify.imaging, classify.service) as Rekognition names them.
_REJECTIONS = {
    "too_large": "ImageTooLargeException",
    "decompression_bomb": "ImageTooLargeException",
    "too_large_for_memory": "ImageTooLargeException",
}


class RekognitionError(Exception):
    """An error in Rekognition's terms: its exception name (`__type`) and HTTP status."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.status = STATUS[name]

    def to_dict(self) -> dict[str, str]:
        return {"__type": self.name, "message": self.message}


@dataclass(frozen=True)
class S3Object:
    bucket: str
    name: str
    version: str | None


@dataclass(frozen=True)
class DetectRequest:
    image_bytes: bytes | None
    s3_object: S3Object | None
    min_confidence: float


# ---------------------------------------------------------------------------- the taxonomy

# (top-level, second-level or None) in Rekognition's published moderation taxonomy.
Taxon = tuple[str, str | None]

# ImageNet classes whose second-level name is known; other classes take their policy category's taxon.
TAXONOMY_BY_WNID: dict[str, Taxon] = {
    "n02837789": ("Swimwear or Underwear", "Female Swimwear or Underwear"),  # bikini
    "n03710637": ("Swimwear or Underwear", "Female Swimwear or Underwear"),  # maillot
    "n03710721": ("Swimwear or Underwear", "Female Swimwear or Underwear"),  # maillot, tank suit
    "n02892767": ("Swimwear or Underwear", "Female Swimwear or Underwear"),  # brassiere
    "n04371430": ("Swimwear or Underwear", "Male Swimwear or Underwear"),  # swimming trunks
    "n03937543": ("Drugs & Tobacco", "Products"),  # pill bottle
    "n04376876": ("Drugs & Tobacco", "Drugs & Tobacco Paraphernalia & Use"),  # syringe
}
# The built-in policy's categories. A category not listed here (off_topic, or a shop's own) has no Rekognition
# counterpart and gives no label; it still counts in the verdict.
TAXONOMY_BY_CATEGORY: dict[str, Taxon] = {
    "weapons": ("Violence", "Weapons"),
    "violence": ("Violence", None),
    "alcohol": ("Alcohol", "Alcoholic Beverages"),
    "drugs_and_medical": ("Drugs & Tobacco", None),
    "swimwear_and_underwear": ("Swimwear or Underwear", None),
}
# The safety model's classes. `sexy` is nsfwjs' "suggestive, not pornographic": on product photos it is swimwear
# and underwear, and the model cannot tell non-explicit nudity apart from it.
TAXONOMY_BY_SAFETY_CLASS: dict[str, Taxon] = {
    "porn": ("Explicit", "Explicit Nudity"),
    "hentai": ("Explicit", "Explicit Nudity"),
    "sexy": ("Swimwear or Underwear", None),
}
# Rekognition's ContentTypes: the safety model's drawn classes are illustrations.
ILLUSTRATED_SAFETY_CLASSES = ("drawing", "hentai")


# ---------------------------------------------------------------------------- the request


def parse_request(target: str | None, body: str) -> DetectRequest:
    if target != TARGET:
        raise RekognitionError(
            "InvalidParameterException", f"X-Amz-Target must be {TARGET}; this endpoint serves no other operation"
        )
    try:
        document = json.loads(body or "{}")
    except ValueError as error:
        raise RekognitionError("InvalidParameterException", f"the request body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise RekognitionError("InvalidParameterException", "the request body must be a JSON object")
    unknown = sorted(set(document) - _KNOWN_PARAMETERS)
    if unknown:
        raise RekognitionError("InvalidParameterException", f"unknown parameter(s) {unknown}")
    unsupported = [name for name in UNSUPPORTED_PARAMETERS if document.get(name) is not None]
    if unsupported:
        raise RekognitionError(
            "InvalidParameterException",
            f"{', '.join(unsupported)} not supported by this service (see docs/integrations.md)",
        )
    return DetectRequest(*_image(document.get("Image")), _min_confidence(document.get("MinConfidence")))


def _image(image: Any) -> tuple[bytes | None, S3Object | None]:
    if not isinstance(image, dict) or ("Bytes" in image) == ("S3Object" in image):
        raise RekognitionError("InvalidParameterException", "Image must have exactly one of Bytes and S3Object")
    if "Bytes" in image:
        encoded = image["Bytes"]
        if not isinstance(encoded, str):
            raise RekognitionError("InvalidParameterException", "Image.Bytes must be base64-encoded text")
        if len(encoded) > math.ceil(MAX_IMAGE_BYTES / 3) * 4:
            raise ImageTooLarge()
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise RekognitionError("InvalidParameterException", "Image.Bytes is not valid base64") from None
        if not data:
            raise RekognitionError("InvalidParameterException", "Image.Bytes is empty")
        if len(data) > MAX_IMAGE_BYTES:
            raise ImageTooLarge()
        return data, None
    s3 = image["S3Object"]
    if not isinstance(s3, dict) or not isinstance(s3.get("Bucket"), str) or not isinstance(s3.get("Name"), str):
        raise RekognitionError("InvalidParameterException", "Image.S3Object needs Bucket and Name (strings)")
    if not s3["Bucket"] or not s3["Name"]:
        raise RekognitionError("InvalidParameterException", "Image.S3Object's Bucket and Name must not be empty")
    version = s3.get("Version")
    if version is not None and (not isinstance(version, str) or not version):
        raise RekognitionError("InvalidParameterException", "Image.S3Object.Version must be a non-empty string")
    return None, S3Object(s3["Bucket"], s3["Name"], version)


def ImageTooLarge() -> RekognitionError:  # noqa: N802 - reads like the exception it builds
    return RekognitionError(
        "ImageTooLargeException",
        f"Image.Bytes may hold at most {MAX_IMAGE_BYTES} bytes (through Lambda, about 4.4 MB of photo); "
        "put larger photos in S3 and send Image.S3Object",
    )


def _min_confidence(value: Any) -> float:
    if value is None:
        return DEFAULT_MIN_CONFIDENCE
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise RekognitionError("InvalidParameterException", f"MinConfidence must be a number 0-100, got {value!r}")
    return float(value)


# ---------------------------------------------------------------------------- the operation


def detect_moderation_labels(
    request: DetectRequest,
    read_photo: Callable[[str, str, str | None], StoredPhoto],
    judge: Callable[[bytes], JudgedPhoto],
) -> dict[str, Any]:
    """The DetectModerationLabels response for one request; RekognitionError for what Rekognition refuses."""
    data = request.image_bytes if request.image_bytes is not None else _read(request.s3_object, read_photo)
    try:
        judged = judge(data)
    except ImageRejected as rejection:
        raise RekognitionError(_REJECTIONS.get(rejection.code, "InvalidImageFormatException"), str(rejection)) from None
    return {
        "ModerationLabels": moderation_labels(judged, request.min_confidence),
        "ModerationModelVersion": judged.model_version,
        "ContentTypes": content_types(judged.safety, request.min_confidence),
    }


def _read(s3: S3Object | None, read_photo: Callable[[str, str, str | None], StoredPhoto]) -> bytes:
    assert s3 is not None  # parse_request gives exactly one of the two
    where = f"s3://{s3.bucket}/{s3.name}" + (f" (version {s3.version})" if s3.version else "")
    try:
        return read_photo(s3.bucket, s3.name, s3.version).data
    except ObjectMissing:
        raise RekognitionError("InvalidS3ObjectException", f"{where} does not exist") from None
    except ObjectRefused:
        raise RekognitionError(
            "InvalidS3ObjectException", f"{where} cannot be read by this service (its role may not read it)"
        ) from None


def moderation_labels(judged: JudgedPhoto, min_confidence: float) -> list[dict[str, Any]]:
    """Each taxon's confidence is the probability its model gives the classes mapped to it (summed within a
    model, whose classes exclude each other; the higher of the two models); a top-level label is as confident as
    everything under it. Only ResNet50's top_k count, as in the policy."""
    per_model: list[dict[Taxon, float]] = []
    imagenet: dict[Taxon, float] = {}
    for label in judged.top:
        category = judged.categories.get(label.wnid)
        taxon = TAXONOMY_BY_WNID.get(label.wnid) if category else None
        taxon = taxon or (TAXONOMY_BY_CATEGORY.get(category) if category else None)
        if taxon:
            _add(imagenet, taxon, label.score)
    per_model.append(imagenet)
    if judged.safety is not None:
        safety: dict[Taxon, float] = {}
        for name, score in zip(SAFETY_CLASSES, np.asarray(judged.safety, dtype=float), strict=True):
            if name in TAXONOMY_BY_SAFETY_CLASS:
                _add(safety, TAXONOMY_BY_SAFETY_CLASS[name], float(score))
        per_model.append(safety)
    merged: dict[Taxon, float] = {}
    for scores in per_model:
        for taxon, score in scores.items():
            merged[taxon] = max(merged.get(taxon, 0.0), score)
    labels = [
        {
            "Confidence": _percent(score),
            "Name": second or top,
            "ParentName": top if second else "",
            "TaxonomyLevel": 2 if second else 1,
        }
        for (top, second), score in merged.items()
        if _percent(score) >= min_confidence
    ]
    return sorted(labels, key=lambda label: (-label["Confidence"], label["TaxonomyLevel"], label["Name"]))


def _add(scores: dict[Taxon, float], taxon: Taxon, score: float) -> None:
    top, second = taxon
    scores[(top, None)] = scores.get((top, None), 0.0) + score
    if second:
        scores[taxon] = scores.get(taxon, 0.0) + score


def content_types(safety: np.ndarray | None, min_confidence: float) -> list[dict[str, Any]]:
    if safety is None:
        return []
    scores = dict(zip(SAFETY_CLASSES, np.asarray(safety, dtype=float), strict=True))
    illustrated = _percent(sum(scores[name] for name in ILLUSTRATED_SAFETY_CLASSES))
    return [{"Confidence": illustrated, "Name": "Illustrated"}] if illustrated >= min_confidence else []


def _percent(probability: float) -> float:
    return round(min(100.0, max(0.0, float(probability) * 100)), 3)
