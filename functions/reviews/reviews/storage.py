from typing import Any


class PhotoLinks:
    """Adapter over the images bucket: short-lived links a moderator's browser can open."""

    def __init__(self, presign_client: Any, bucket: str):
        self._presign_client = presign_client
        self._bucket = bucket

    def presign_view(self, key: str, expires_in: int) -> str:
        """A link to a rendition: the judged version's pixels, exactly as shoppers would be shown them."""
        return self._presign_client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in
        )
