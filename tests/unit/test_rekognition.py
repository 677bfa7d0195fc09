"""classify.rekognition: DetectModerationLabels requests, Rekognition's taxonomy and its errors, without a model."""

import base64
import json

import numpy as np
import pytest

from classify.imaging import ImageRejected
from classify.judging import JudgedPhoto
from classify.policy import Verdict
from classify.rekognition import (
    DEFAULT_MIN_CONFIDENCE,
    MAX_IMAGE_BYTES,
    TARGET,
    RekognitionError,
    content_types,
    detect_moderation_labels,
    moderation_labels,
    parse_request,
)
from classify.safety import SAFETY_CLASSES
from classify.service import ObjectMissing, ObjectRefused, StoredPhoto
from photomod_shared.prediction import Label, ModelInfo


def body(**fields) -> str:
    return json.dumps(fields)


def encoded(data: bytes) -> str:
    return base64.b64encode(data).decode()


def judged(top: list[tuple[str, str, float]], categories: dict[str, str], safety: dict[str, float] | None = None):
    scores = None if safety is None else np.array([safety.get(name, 0.0) for name in SAFETY_CLASSES])
    return JudgedPhoto(
        top=[Label(label=label, wnid=wnid, score=score) for wnid, label, score in top],
        categories=categories,
        safety=scores,
        verdict=Verdict("review", (), "shop.7"),
        model=ModelInfo(name="ResNet50", weights="imagenet"),
    )


def by_name(labels: list[dict]) -> dict[str, dict]:
    return {label["Name"]: label for label in labels}


# ---------------------------------------------------------------------------- requests


def test_bytes_are_base64_and_min_confidence_defaults_to_50():
    request = parse_request(TARGET, body(Image={"Bytes": encoded(b"\xff\xd8photo")}))

    assert request.image_bytes == b"\xff\xd8photo" and request.s3_object is None
    assert request.min_confidence == DEFAULT_MIN_CONFIDENCE == 50


def test_an_s3_object_keeps_bucket_name_and_version():
    request = parse_request(TARGET, body(Image={"S3Object": {"Bucket": "b", "Name": "k.jpg", "Version": "v1"}}))

    assert (request.s3_object.bucket, request.s3_object.name, request.s3_object.version) == ("b", "k.jpg", "v1")


@pytest.mark.parametrize(
    ("target", "document", "reason"),
    [
        ("RekognitionService.DetectLabels", {"Image": {"Bytes": "AA=="}}, "X-Amz-Target"),
        (TARGET, {}, "exactly one of Bytes and S3Object"),
        (TARGET, {"Image": {"Bytes": "AA==", "S3Object": {"Bucket": "b", "Name": "k"}}}, "exactly one"),
        (TARGET, {"Image": {"Bytes": "not base64!"}}, "not valid base64"),
        (TARGET, {"Image": {"S3Object": {"Bucket": "b"}}}, "Bucket and Name"),
        (TARGET, {"Image": {"Bytes": "AA=="}, "MinConfidence": 101}, "MinConfidence"),
        (TARGET, {"Image": {"Bytes": "AA=="}, "MinConfidence": True}, "MinConfidence"),
        (TARGET, {"Image": {"Bytes": "AA=="}, "ProjectVersion": "arn:x"}, "ProjectVersion not supported"),
        (TARGET, {"Image": {"Bytes": "AA=="}, "Colour": "red"}, "unknown parameter"),
    ],
)
def test_malformed_requests_are_invalid_parameters_with_the_reason(target, document, reason):
    with pytest.raises(RekognitionError) as raised:
        parse_request(target, json.dumps(document))

    assert raised.value.name == "InvalidParameterException" and raised.value.status == 400
    assert reason in raised.value.message
    assert raised.value.to_dict() == {"__type": "InvalidParameterException", "message": raised.value.message}


def test_bytes_over_rekognitions_5_mb_are_image_too_large():
    with pytest.raises(RekognitionError) as raised:
        parse_request(TARGET, body(Image={"Bytes": encoded(b"x" * (MAX_IMAGE_BYTES + 1))}))

    assert raised.value.name == "ImageTooLargeException"
    assert "S3Object" in raised.value.message


# ---------------------------------------------------------------------------- the operation


def reader(photos: dict[str, bytes | Exception]):
    def read(bucket: str, key: str, version: str | None) -> StoredPhoto:
        found = photos[f"{bucket}/{key}@{version}"]
        if isinstance(found, Exception):
            raise found
        return StoredPhoto(found, version)

    return read


def test_an_s3_object_is_read_at_its_version_and_judged():
    request = parse_request(TARGET, body(Image={"S3Object": {"Bucket": "b", "Name": "k.jpg", "Version": "v1"}}))
    seen = []

    def judge(data: bytes) -> JudgedPhoto:
        seen.append(data)
        return judged([("n02823428", "beer_bottle", 0.9)], {"n02823428": "alcohol"})

    reply = detect_moderation_labels(request, reader({"b/k.jpg@v1": b"v1 bytes"}), judge)

    assert seen == [b"v1 bytes"]
    assert reply["ModerationModelVersion"] == "photomod-shop.7"
    assert by_name(reply["ModerationLabels"])["Alcoholic Beverages"]["ParentName"] == "Alcohol"


@pytest.mark.parametrize("error", [ObjectMissing("k.jpg"), ObjectRefused("k.jpg: AccessDenied")])
def test_an_object_that_cannot_be_read_is_an_invalid_s3_object(error):
    request = parse_request(TARGET, body(Image={"S3Object": {"Bucket": "b", "Name": "k.jpg"}}))

    with pytest.raises(RekognitionError) as raised:
        detect_moderation_labels(request, reader({"b/k.jpg@None": error}), lambda data: pytest.fail("judged"))

    assert raised.value.name == "InvalidS3ObjectException"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("unsupported_format", "InvalidImageFormatException"),
        ("corrupt_image", "InvalidImageFormatException"),
        ("too_small", "InvalidImageFormatException"),
        ("too_large", "ImageTooLargeException"),
        ("decompression_bomb", "ImageTooLargeException"),
    ],
)
def test_rejected_photos_raise_rekognitions_exception_for_the_reason(code, name):
    request = parse_request(TARGET, body(Image={"Bytes": encoded(b"bytes")}))

    def judge(data: bytes) -> JudgedPhoto:
        raise ImageRejected(code, "why")

    with pytest.raises(RekognitionError) as raised:
        detect_moderation_labels(request, reader({}), judge)

    assert raised.value.name == name and raised.value.message == "why"


def test_untrained_weights_are_named_in_the_model_version():
    photo = judged([], {})
    untrained = JudgedPhoto(photo.top, {}, None, photo.verdict, ModelInfo(name="ResNet50", weights="untrained"))

    assert untrained.model_version == "photomod-shop.7+untrained-weights"


# ---------------------------------------------------------------------------- the taxonomy


def test_policy_classes_map_to_second_level_labels_under_their_top_level():
    photo = judged(
        [("n04086273", "revolver", 0.6), ("n02837789", "bikini", 0.2), ("n04371430", "swimming_trunks", 0.15)],
        {"n04086273": "weapons", "n02837789": "swimwear_and_underwear", "n04371430": "swimwear_and_underwear"},
    )

    labels = by_name(moderation_labels(photo, 0))

    assert labels["Weapons"] == {"Confidence": 60.0, "Name": "Weapons", "ParentName": "Violence", "TaxonomyLevel": 2}
    assert labels["Violence"] == {"Confidence": 60.0, "Name": "Violence", "ParentName": "", "TaxonomyLevel": 1}
    assert labels["Female Swimwear or Underwear"]["Confidence"] == 20.0
    assert labels["Male Swimwear or Underwear"]["Confidence"] == 15.0
    # A top-level label is as likely as its classes together (they exclude each other in one softmax).
    assert labels["Swimwear or Underwear"]["Confidence"] == 35.0


def test_classes_the_policy_does_not_list_and_categories_without_a_counterpart_give_no_label():
    photo = judged(
        [("n03598930", "jigsaw_puzzle", 0.9), ("n06359193", "web_site", 0.8)],
        {"n06359193": "off_topic"},
    )

    assert moderation_labels(photo, 0) == []


def test_the_safety_models_classes_map_to_explicit_and_swimwear_and_the_higher_model_wins():
    photo = judged(
        [("n02837789", "bikini", 0.4)],
        {"n02837789": "swimwear_and_underwear"},
        safety={"porn": 0.1, "hentai": 0.05, "sexy": 0.8, "neutral": 0.05},
    )

    labels = by_name(moderation_labels(photo, 0))

    assert labels["Swimwear or Underwear"]["Confidence"] == 80.0
    assert labels["Female Swimwear or Underwear"]["Confidence"] == 40.0
    assert labels["Explicit Nudity"] == {
        "Confidence": 15.0,
        "Name": "Explicit Nudity",
        "ParentName": "Explicit",
        "TaxonomyLevel": 2,
    }
    assert [label["Confidence"] for label in moderation_labels(photo, 50)] == [80.0]


def test_drawings_are_illustrated_content():
    safety = np.array([0.5, 0.3, 0.2, 0.0, 0.0])  # drawing, hentai, neutral, porn, sexy

    assert content_types(safety, 50) == [{"Confidence": 80.0, "Name": "Illustrated"}]
    assert content_types(safety, 90) == []
    assert content_types(None, 0) == []
