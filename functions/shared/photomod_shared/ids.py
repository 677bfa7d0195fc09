"""Image ids and the object keys they map to.

Uploads get a random id and a server-generated key (`uploads/<id>.<ext>`). Objects dropped under
`incoming/` get an id derived from their key, so the API can find them by key without an index.
"""

import re
import uuid

from photomod_shared.s3 import UNVERSIONED

UPLOAD_PREFIX = "uploads/"
DROP_FOLDER_PREFIX = "incoming/"
# The display renditions classify makes (classify.rendition): the only images ever served. Private, like uploads.
RENDITION_PREFIX = "renditions/"
MAX_KEY_LENGTH = 1024

# A fixed namespace: the same drop-folder key always maps to the same image id.
_DROP_FOLDER_NAMESPACE = uuid.UUID("5b0f6a52-3c1e-4a53-9a43-8f0f7b2c1d10")
_IMAGE_ID = re.compile(r"^[0-9a-f]{32}$")
_UPLOAD_KEY = re.compile(r"^uploads/(?P<image_id>[0-9a-f]{32})\.[a-z0-9]{2,5}$")

SOURCE_UPLOAD = "upload"
SOURCE_DROP_FOLDER = "drop-folder"


class UnrecognisedKey(ValueError):
    """An object key outside the prefixes this service classifies."""


def has_control_characters(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def new_image_id() -> str:
    return uuid.uuid4().hex


def is_image_id(value: str) -> bool:
    return bool(_IMAGE_ID.match(value))


def upload_key(image_id: str, extension: str) -> str:
    return f"{UPLOAD_PREFIX}{image_id}.{extension}"


def rendition_key(image_id: str, version_id: str | None) -> str:
    """Where the rendition of one judged version of a photo is kept: each version has its own, so a newer upload
    never replaces the rendition of the version that was judged before it is judged itself."""
    return f"{RENDITION_PREFIX}{image_id}/{version_id or UNVERSIONED}.jpg"


def is_drop_folder_key(key: str) -> bool:
    return (
        key.startswith(DROP_FOLDER_PREFIX)
        and len(key) > len(DROP_FOLDER_PREFIX)
        and len(key.encode()) <= MAX_KEY_LENGTH
        and not has_control_characters(key)
    )


def image_id_for_key(key: str) -> str:
    """The image id an object key belongs to; raises UnrecognisedKey for keys this service does not own."""
    upload = _UPLOAD_KEY.match(key)
    if upload:
        return upload["image_id"]
    if is_drop_folder_key(key):
        return uuid.uuid5(_DROP_FOLDER_NAMESPACE, key).hex
    raise UnrecognisedKey(f"object key {key!r} is neither a server-generated upload key nor under {DROP_FOLDER_PREFIX}")


def source_for_key(key: str) -> str:
    return SOURCE_UPLOAD if key.startswith(UPLOAD_PREFIX) else SOURCE_DROP_FOLDER
