from typing import Any


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

    def presign_display(self, key: str, version_id: str, expires_in: int) -> str:
        """A GET of exactly this version: bytes uploaded to the key later are not what the URL serves."""
        return self._presign_client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key, "VersionId": version_id}, ExpiresIn=expires_in
        )

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
        except self._client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True
