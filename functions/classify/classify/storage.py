"""The classifier's adapters: photos in S3; the shop's policy document in SSM Parameter Store, read with Powertools'
Parameters utility (its cache bounded by the same time as classify.live_policy's)."""

import logging
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from classify.labels import ClassIndex
from classify.live_policy import LivePolicy
from classify.policy import ModerationPolicy
from classify.rendition import CONTENT_TYPE
from classify.service import Message, ObjectMissing, ObjectRefused, StoredPhoto

# NoSuchVersion: the version the notification names was deleted; 404 is HeadObject's only word for it.
_MISSING = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
_REFUSED = frozenset({"AccessDenied", "403", "NoSuchBucket", "InvalidBucketName", "AllAccessDisabled"})

logger = logging.getLogger(__name__)


class S3PhotoStore:
    """Adapter over S3: reads of uploaded photos, writes of their renditions."""

    def __init__(self, client: Any):
        self._client = client

    def read(self, bucket: str, key: str, version_id: str | None) -> StoredPhoto:
        """The bytes of exactly `version_id` (or of the current version when the notification named none)."""
        request = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
        try:
            response = self._client.get_object(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in _MISSING:
                raise ObjectMissing(key) from None
            if code in _REFUSED:
                # With s3:ListBucket (granted on the photo prefixes) a deleted photo answers 404, so a 403 is
                # a role that may not read it: not the photo's fault. It is retried, then dead-lettered.
                logger.error("GetObject of s3://%s/%s was refused (%s): check the role's S3 grants", bucket, key, code)
                raise ObjectRefused(f"s3://{bucket}/{key}: {code}") from error
            raise
        return StoredPhoto(response["Body"].read(), _version(response.get("VersionId")))

    def save_rendition(self, bucket: str, key: str, data: bytes) -> None:
        """Stores a photo's display rendition (private; served only through the display gate)."""
        self._client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=CONTENT_TYPE)

    def current_version(self, bucket: str, key: str) -> str | None:
        try:
            response = self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                raise ObjectMissing(key) from None
            raise
        return _version(response.get("VersionId"))


def _version(value: str | None) -> str | None:
    # An unversioned bucket answers "null" (or nothing): there is no version to pin.
    return value if value and value != "null" else None


class PolicyParameter:
    """Adapter over SSM Parameter Store: the document's text, or None while no shop policy is put."""

    def __init__(self, provider: Any, name: str, max_age_s: int):
        self._provider = provider
        self._name = name
        self._max_age_s = max_age_s

    def read(self) -> str | None:
        try:
            return str(self._provider.get(self._name, max_age=self._max_age_s))
        except GetParameterError as error:
            if "ParameterNotFound" in str(error):
                return None
            raise


def policy_in_force(
    parameter_name: str | None, cache_seconds: int, class_index: ClassIndex
) -> ModerationPolicy | LivePolicy:
    """The built-in policy, replaced by the shop's document in `parameter_name` whenever there is a valid one."""
    builtin = ModerationPolicy.from_file(class_index=class_index)
    if not parameter_name:
        return builtin
    provider = SSMProvider(boto3_client=boto3.client("ssm"))
    document = PolicyParameter(provider, parameter_name, cache_seconds)
    return LivePolicy(builtin, document.read, class_index, refresh_s=cache_seconds)


# Message attributes of a handed-back copy (classify.service.Message): what the copy carries over.
EARLIER_RECEIVES_ATTRIBUTE = "photomod.earlier_receives"
HAND_BACKS_ATTRIBUTE = "photomod.hand_backs"


def message_of(record: Any) -> Message:
    """The domain's view of one SQS record (Powertools' SQSRecord): its body, receive count and carried counts."""
    attributes = record.message_attributes

    def carried(name: str) -> int:
        value = attributes[name].string_value if name in attributes else None
        return int(value) if value and value.isdigit() else 0

    return Message(
        record.message_id,
        record.body,
        int(record.attributes.approximate_receive_count or 1),
        earlier_receives=carried(EARLIER_RECEIVES_ATTRIBUTE),
        hand_backs=carried(HAND_BACKS_ATTRIBUTE),
    )


class ClassifyQueue:
    """Adapter over the classify queue: sends a message handed back unstarted again, as a new message, so the
    delivery that had no time for it does not count towards the queue's maxReceiveCount."""

    def __init__(self, client: Any, queue_url: str):
        self._client, self._queue_url = client, queue_url

    def hand_back(self, message: Message) -> None:
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=message.body,
            MessageAttributes={
                EARLIER_RECEIVES_ATTRIBUTE: {"DataType": "Number", "StringValue": str(message.unanswered_deliveries)},
                HAND_BACKS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(message.hand_backs + 1)},
            },
        )
