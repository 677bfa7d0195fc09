import logging
from typing import Any

from photomod_shared.clients import AwsClients
from upload.service import ArrivalUnknown
from upload.settings import ImageStoreSettings

logger = logging.getLogger(__name__)
# What S3 answers for a key that is not there: 404 with s3:ListBucket on the bucket, 403 without it.
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
_FORBIDDEN = ("403", "AccessDenied", "Forbidden")


class ImageStore:
    """Adapter over the images bucket. `presign_client` may differ from `client` only in its endpoint."""

    def __init__(self, client: Any, presign_client: Any, bucket: str):
        self._client = client
        self._presign_client = presign_client
        self._bucket = bucket

    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        presigned = self._presign_client.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
        return {"url": presigned["url"], "fields": presigned["fields"]}

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)

    def presign_display(self, key: str, expires_in: int) -> str:
        """A GET of a rendition (each judged version has its own key, written once by classify)."""
        return self._presign_client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in
        )

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
        except self._client.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in _NOT_FOUND:
                return False
            if code in _FORBIDDEN:
                logger.warning(
                    "HeadObject of s3://%s/%s answered %s: cannot tell whether it arrived "
                    "(the role needs s3:GetObject on the key and s3:ListBucket on the bucket)",
                    self._bucket,
                    key,
                    code,
                )
                raise ArrivalUnknown(key) from None
            raise
        return True


def image_store(aws: AwsClients, settings: ImageStoreSettings) -> ImageStore:
    """The images bucket as both handlers of the package (upload.app, upload.predict_app) reach it; presigned URLs
    name PRESIGN_ENDPOINT_URL where the browser reaches S3 at another address."""
    presign_client = aws.client("s3", endpoint_url=settings.presign_endpoint_url)
    return ImageStore(aws.client("s3"), presign_client, settings.images_bucket)
