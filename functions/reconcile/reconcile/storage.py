"""Adapters: the predictions table, the images bucket and the classify queue."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from photomod_shared.clock import iso
from photomod_shared.prediction import STATUS_PENDING, Failure, Prediction
from photomod_shared.prediction_table import PredictionTable, from_dynamo
from reconcile.service import StoredObject

# A notification the reconciler sends sorts before any S3 sequencer, so a late original still counts.
SYNTHETIC_SEQUENCER = "0"
PRINCIPAL = "photomod-reconcile"


class PendingRows:
    """The predictions table, as the reconciler reads and settles it."""

    def __init__(self, table: Any):
        self._table = table
        self._predictions = PredictionTable(table)

    def pending(self) -> Iterator[Prediction]:
        request: dict[str, Any] = {
            "FilterExpression": "#status = :pending",
            "ProjectionExpression": "image_id, #status, s3_key, #source, created_at, upload_expires_at, requeue_count, "
            "requeued_at",
            "ExpressionAttributeNames": {"#status": "status", "#source": "source"},
            "ExpressionAttributeValues": {":pending": STATUS_PENDING},
        }
        while True:
            response = self._table.scan(**request)
            for item in response.get("Items", []):
                yield Prediction.from_item(from_dynamo(item))
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def known_ids(self, image_ids: list[str]) -> set[str]:
        client, name = self._table.meta.client, self._table.name
        found: set[str] = set()
        for start in range(0, len(image_ids), 100):
            request = {
                name: {
                    "Keys": [{"image_id": image_id} for image_id in image_ids[start : start + 100]],
                    "ProjectionExpression": "image_id",
                }
            }
            while request:
                response = client.batch_get_item(RequestItems=request)
                found.update(item["image_id"] for item in response["Responses"].get(name, []))
                request = response.get("UnprocessedKeys") or {}
        return found

    def create_pending(self, prediction: Prediction) -> bool:
        try:
            self._predictions.create_pending(prediction)
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def note_requeued(self, image_id: str, times: int, at: str) -> bool:
        try:
            self._table.update_item(
                Key={"image_id": image_id},
                UpdateExpression="SET requeue_count = :times, requeued_at = :at",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":times": times, ":at": at, ":pending": STATUS_PENDING},
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def fail_if_pending(self, image_id: str, error: Failure, failed_at: str) -> bool:
        return self._predictions.fail_if_pending(image_id, error, failed_at)


class PhotoBucket:
    """The images bucket. Needs s3:ListBucket: without it HeadObject answers 403 for a missing key, not 404."""

    def __init__(self, client: Any, bucket: str, drop_folder_prefix: str):
        self._client, self._bucket, self._prefix = client, bucket, drop_folder_prefix

    def head(self, key: str) -> StoredObject | None:
        try:
            response = self._client.head_object(Bucket=self._bucket, Key=key)
        except self._client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredObject(
            key=key,
            size=int(response.get("ContentLength", 0)),
            etag=str(response.get("ETag", "")).strip('"'),
            last_modified=response["LastModified"],
            version_id=response.get("VersionId"),
        )

    def drop_folder_objects(self) -> Iterator[StoredObject]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=self._prefix)
        for page in pages:
            for entry in page.get("Contents", []):
                yield StoredObject(
                    key=entry["Key"],
                    size=int(entry.get("Size", 0)),
                    etag=str(entry.get("ETag", "")).strip('"'),
                    last_modified=entry["LastModified"],
                )


class ClassifyQueue:
    """Sends the classifier the S3 notification it never got, in S3's own format."""

    def __init__(self, client: Any, queue_url: str, bucket: str, region: str):
        self._client, self._queue_url, self._bucket, self._region = client, queue_url, bucket, region

    def requeue(self, photo: StoredObject) -> None:
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(self.notification(photo)))

    def notification(self, photo: StoredObject, now: datetime | None = None) -> dict[str, Any]:
        s3_object: dict[str, Any] = {
            "key": quote_plus(photo.key, safe="/"),  # S3 URL-encodes keys in notifications
            "size": photo.size,
            "eTag": photo.etag,
            "sequencer": SYNTHETIC_SEQUENCER,
        }
        if photo.version_id and photo.version_id != "null":
            s3_object["versionId"] = photo.version_id
        return {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": self._region,
                    "eventTime": iso(now or datetime.now(UTC)),
                    "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": PRINCIPAL},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper()},
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": PRINCIPAL,
                        "bucket": {
                            "name": self._bucket,
                            "ownerIdentity": {"principalId": PRINCIPAL},
                            "arn": f"arn:aws:s3:::{self._bucket}",
                        },
                        "object": s3_object,
                    },
                }
            ]
        }
