"""POST /rekognition through boto3's own `rekognition` client, changed only in its endpoint_url (and the API key).

What a shop that calls Amazon Rekognition today observes when it points its client at this service: the same
operation, response shape and exception classes, judged by the same models and policy as an upload.
"""

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.helpers import SAMPLES_DIR, expected_model, unique, upload_photo, wait_for_final

pytestmark = pytest.mark.integration

BIKINI = SAMPLES_DIR / "n02837789_bikini.JPEG"
BEER = SAMPLES_DIR / "n02823428_beer_bottle.JPEG"


def rekognition_client(stack, api_key: str | None):
    """As docs/integrations.md shows it: boto3's client, our endpoint, the key added by a botocore event hook."""
    client = boto3.client(
        "rekognition",
        endpoint_url=f"{stack.api_url}/rekognition",
        region_name="us-east-1",
        # Any credentials: the API ignores the SigV4 signature, the API key authenticates.
        aws_access_key_id="shop",
        aws_secret_access_key="shop",
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )
    if api_key:

        def add_api_key(request, **_):
            request.headers["X-Api-Key"] = api_key

        client.meta.events.register("before-sign.rekognition", add_api_key)
    return client


@pytest.fixture(scope="module")
def rekognition(local_stack):
    return rekognition_client(local_stack, local_stack.api_key)


def assert_rekognition_shape(stack, reply: dict) -> None:
    for label in reply["ModerationLabels"]:
        assert set(label) == {"Confidence", "Name", "ParentName", "TaxonomyLevel"}, label
        assert 0 <= label["Confidence"] <= 100 and label["TaxonomyLevel"] in (1, 2)
        assert (label["ParentName"] == "") == (label["TaxonomyLevel"] == 1), label
    parents = {label["ParentName"] for label in reply["ModerationLabels"]} - {""}
    assert parents <= {label["Name"] for label in reply["ModerationLabels"] if label["TaxonomyLevel"] == 1}
    # Untrained weights are labelled wherever a result shows.
    untrained = expected_model(stack)["weights"] == "untrained"
    assert ("+untrained-weights" in reply["ModerationModelVersion"]) == untrained, reply["ModerationModelVersion"]
    for content in reply["ContentTypes"]:
        assert set(content) == {"Confidence", "Name"}


def test_bytes_get_rekognition_labels_judged_like_an_upload_of_the_same_photo(local_stack, rekognition):
    data = BIKINI.read_bytes()

    reply = rekognition.detect_moderation_labels(Image={"Bytes": data}, MinConfidence=0)

    assert_rekognition_shape(local_stack, reply)
    # The same models and policy as an upload: the same verdict, and the safety model's swimwear score.
    uploaded = upload_photo(local_stack, data, "bikini.jpg")
    stored = wait_for_final(local_stack, uploaded["image_id"])
    headers = reply["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-photomod-verdict"] == stored["verdict"]
    assert headers["x-photomod-policy-version"] == stored["policy_version"]
    assert reply["ModerationModelVersion"].startswith(f"photomod-{stored['policy_version']}")
    if stored["safety"] is None:
        pytest.skip("the local stack runs without the safety model (make models): no safety-model labels to compare")
    sexy = stored["safety"]["probabilities"]["sexy"] * 100
    swimwear = {label["Name"]: label["Confidence"] for label in reply["ModerationLabels"]}["Swimwear or Underwear"]
    assert swimwear >= sexy - 0.01


def test_min_confidence_defaults_to_50_and_filters_labels(rekognition):
    data = BIKINI.read_bytes()

    everything = rekognition.detect_moderation_labels(Image={"Bytes": data}, MinConfidence=0)["ModerationLabels"]
    default = rekognition.detect_moderation_labels(Image={"Bytes": data})["ModerationLabels"]

    assert default == [label for label in everything if label["Confidence"] >= 50]


def test_an_s3_object_of_the_stack_bucket_is_judged_by_name_and_version(local_stack, rekognition):
    s3 = local_stack.client("s3")
    key = f"incoming/{unique('rekognition')}.jpg"
    first = s3.put_object(Bucket=local_stack.bucket, Key=key, Body=BIKINI.read_bytes())
    s3.put_object(Bucket=local_stack.bucket, Key=key, Body=BEER.read_bytes())

    by_bytes = rekognition.detect_moderation_labels(Image={"Bytes": BIKINI.read_bytes()}, MinConfidence=0)
    by_version = rekognition.detect_moderation_labels(
        Image={"S3Object": {"Bucket": local_stack.bucket, "Name": key, "Version": first["VersionId"]}},
        MinConfidence=0,
    )
    current = rekognition.detect_moderation_labels(
        Image={"S3Object": {"Bucket": local_stack.bucket, "Name": key}}, MinConfidence=0
    )

    assert by_version["ModerationLabels"] == by_bytes["ModerationLabels"]
    assert current["ModerationLabels"] != by_bytes["ModerationLabels"]


def test_bytes_that_are_no_image_raise_the_sdks_invalid_image_format_exception(rekognition):
    with pytest.raises(rekognition.exceptions.InvalidImageFormatException) as raised:
        rekognition.detect_moderation_labels(Image={"Bytes": b"%PDF-1.7 this is no photo"})

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "not a supported image" in raised.value.response["Error"]["Message"]


def test_a_missing_s3_object_raises_invalid_s3_object_exception(local_stack, rekognition):
    with pytest.raises(rekognition.exceptions.InvalidS3ObjectException):
        rekognition.detect_moderation_labels(
            Image={"S3Object": {"Bucket": local_stack.bucket, "Name": f"incoming/{unique('absent')}.jpg"}}
        )


def test_unsupported_parameters_raise_invalid_parameter_exception(rekognition):
    with pytest.raises(rekognition.exceptions.InvalidParameterException) as raised:
        rekognition.detect_moderation_labels(
            Image={"Bytes": BIKINI.read_bytes()},
            HumanLoopConfig={"HumanLoopName": "loop", "FlowDefinitionArn": "arn:aws:sagemaker:::flow-definition/x"},
        )

    assert "HumanLoopConfig" in raised.value.response["Error"]["Message"]


def test_without_the_api_key_the_gateway_refuses(local_stack):
    with pytest.raises(ClientError) as raised:
        rekognition_client(local_stack, None).detect_moderation_labels(Image={"Bytes": BIKINI.read_bytes()})

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
