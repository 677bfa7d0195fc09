"""Adapters: the images bucket and the classify queue (the predictions table is photomod_shared.tables'
PredictionTable, which holds every DynamoDB request)."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from photomod_shared.clock import iso
from reconcile.service import StoredObject

# A notification the reconciler sends sorts before any S3 sequencer, so a late original still counts.
SYNTHETIC_SEQUENCER = "0"
PRINCIPAL = "photomod-reconcile"


class ImagesBucket:
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

    def drop_folder_page(self, start_after: str | None, limit: int) -> tuple[list[StoredObject], str | None]:
        """One ListObjectsV2 request: up to `limit` (at most 1000) objects after `start_after`, in key order, and
        the last key listed when there are more (None at the end of the folder)."""
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": self._prefix, "MaxKeys": min(limit, 1000)}
        if start_after:
            request["StartAfter"] = start_after
        response = self._client.list_objects_v2(**request)
        page = [
            StoredObject(
                key=entry["Key"],
                size=int(entry.get("Size", 0)),
                etag=str(entry.get("ETag", "")).strip('"'),
                last_modified=entry["LastModified"],
            )
            for entry in response.get("Contents", [])
        ]
        return page, (page[-1].key if page and response.get("IsTruncated") else None)


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
