"""S3's own rules, which every adapter over the images bucket relies on: which error codes mean "not there" and
which "not allowed to tell", that the version "null" names no version, and the presigned GET of one key.

Plain Python (no botocore import): adapters pass their ClientError and their client in."""

from typing import Any

# GetObject says NoSuchKey (NoSuchVersion for a deleted version); HeadObject has no body to say it in, so its
# code is the status, "404" (or "NotFound"). All of these only with s3:ListBucket on the bucket: without it a
# missing key answers 403, a code of FORBIDDEN_CODES.
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})
FORBIDDEN_CODES = frozenset({"403", "AccessDenied", "Forbidden"})
# A bucket without versioning has one version per key, which S3 calls "null".
UNVERSIONED = "null"


def error_code(error: Exception) -> str | None:
    """The `Error.Code` of a botocore ClientError (None for anything else)."""
    response = getattr(error, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def is_not_found(error: Exception) -> bool:
    return error_code(error) in NOT_FOUND_CODES


def pinned_version(value: object) -> str | None:
    """The version to pin, or None where S3 names none: "null", empty or absent (an unversioned bucket)."""
    return str(value) if value not in (None, "", UNVERSIONED) else None


def presign_get(client: Any, bucket: str, key: str, expires_in: int) -> str:
    """A presigned GET of `key`. The keys served this way are renditions, one per judged version
    (ids.rendition_key), so the link shows that version's pixels even if the photo is replaced meanwhile."""
    return str(client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in))
