"""What the functions refuse, in the domain's words: each function's app.py maps these to HTTP statuses in one
table. `code` is the machine-readable reason a client sees; `message` is for people."""


class DomainError(Exception):
    """A request the service refuses, with a stable code; subclasses name the reason."""

    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code


class InvalidInput(DomainError):
    """The request itself is wrong: a malformed id, a limit out of range, a missing parameter."""

    code = "invalid_request"


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class UploadTooLarge(InvalidInput):
    """A presigned upload asked for more bytes than the limit (the client corrects its request): a 400, where
    FileTooLarge is a photo already sent (a 413), so each has its own code."""

    code = "declared_size_too_large"


class FileTooLarge(DomainError):
    """A photo sent in the request body is over the size limit."""

    code = "file_too_large"


class MissingFile(DomainError):
    code = "missing_file"


class MalformedRequest(DomainError):
    code = "malformed_request"


class ImageNotFound(DomainError):
    code = "image_not_found"


class ImagePending(DomainError):
    code = "image_pending"


class ImageFailed(DomainError):
    code = "image_failed"


class ImageUnverified(DomainError):
    code = "image_unverified"


class ImageBlocked(DomainError):
    code = "image_blocked"


class ImageInReview(DomainError):
    code = "image_in_review"


class NotInReview(DomainError):
    code = "not_in_review"


class NotDecided(DomainError):
    """An undo of a decision that is not there (never made, or already undone)."""

    code = "not_decided"


class NotBanked(DomainError):
    """A removal from the photo bank of a photo that is not banked (never was, or was removed already)."""

    code = "not_banked"


class VersionChanged(DomainError):
    code = "version_changed"


class NotSignedIn(DomainError):
    """A staff route reached without a verified identity (API Gateway's authorizer normally answers first)."""

    code = "not_signed_in"


class NotInGroup(DomainError):
    """A signed-in member of staff whose groups do not include the one the route needs."""

    code = "not_in_group"
