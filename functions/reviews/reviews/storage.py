from typing import Any


class PhotoLinks:
    """Adapter over the images bucket: short-lived links a moderator's browser can open."""

    def __init__(self, presign_client: Any, bucket: str):
        self._presign_client = presign_client
        self._bucket = bucket

    def presign_view(self, key: str, version_id: str, expires_in: int) -> str:
        """A link to exactly the version that was judged, never to whatever the key holds now."""
        return self._presign_client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key, "VersionId": version_id}, ExpiresIn=expires_in
        )
