from typing import Any

from photomod_shared import s3


class PhotoLinks:
    """Adapter over the images bucket: short-lived links a moderator's browser can open."""

    def __init__(self, presign_client: Any, bucket: str):
        self._presign_client = presign_client
        self._bucket = bucket

    def presign_view(self, key: str, expires_in: int) -> str:
        """A link to a rendition: the judged version's pixels, exactly as shoppers would be shown them."""
        return s3.presign_get(self._presign_client, self._bucket, key, expires_in)
