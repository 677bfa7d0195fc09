"""S3 event notifications and the SQS events that carry them, as AWS shapes them (for tools and tests)."""

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from infra.local.sqs_source import sqs_event


def s3_notification(bucket: str, key: str, etag: str, size: int, sequencer: str | None = None) -> dict[str, Any]:
    """An ObjectCreated:Put notification; the key is URL-encoded as S3 encodes it (moto also encodes '/')."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:EXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": "example"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "photos",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "EXAMPLE"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag,
                        "sequencer": sequencer or f"{time.time_ns():X}",
                    },
                },
            }
        ]
    }


def sqs_batch_of_notifications(notifications: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The SQS event Lambda would build from messages carrying these notifications."""
    messages = [
        {
            "MessageId": str(uuid.uuid4()),
            "ReceiptHandle": uuid.uuid4().hex,
            "Body": json.dumps(notification),
            "Attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(int(time.time() * 1000)),
                "SenderId": "AIDAEXAMPLE",
                "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
            },
        }
        for notification in notifications
    ]
    return sqs_event(messages, queue_arn, "us-east-1")
