import logging
from typing import Any

from classify.service import ObjectMissing

logger = logging.getLogger(__name__)


class PhotoBucket:
    """Adapter over S3 reads of uploaded photos."""

    def __init__(self, client: Any):
        self._client = client

    def read(self, bucket: str, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=bucket, Key=key)
        except self._client.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectMissing(key) from None
            if code in ("AccessDenied", "403"):
                # With s3:ListBucket (granted on the photo prefixes) a deleted photo answers 404, so a 403 is
                # a role that may not read it: not the photo's fault. It is retried, then dead-lettered.
                logger.error("GetObject of s3://%s/%s was refused (%s): check the role's S3 grants", bucket, key, code)
            raise
        return response["Body"].read()
