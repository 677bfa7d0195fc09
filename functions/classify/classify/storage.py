from typing import Any

from classify.service import ObjectMissing


class PhotoBucket:
    """Adapter over S3 reads of uploaded photos."""

    def __init__(self, client: Any):
        self._client = client

    def read(self, bucket: str, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=bucket, Key=key)
        except self._client.exceptions.NoSuchKey:
            raise ObjectMissing(key) from None
        return response["Body"].read()
