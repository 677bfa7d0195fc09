from dataclasses import dataclass

from photomod_shared import settings


@dataclass(frozen=True)
class UploadSettings:
    images_bucket: str
    predictions_table: str
    web_origin: str
    max_upload_bytes: int
    upload_url_expiry_seconds: int
    # Only where the browser reaches S3 at another address than this function does (e.g. inside Docker).
    presign_endpoint_url: str | None

    @classmethod
    def from_environment(cls) -> "UploadSettings":
        expiry = settings.integer("UPLOAD_URL_EXPIRY_SECONDS", 300)
        if not 1 <= expiry <= 300:
            raise settings.MissingSetting("UPLOAD_URL_EXPIRY_SECONDS must be between 1 and 300")
        return cls(
            images_bucket=settings.required("IMAGES_BUCKET"),
            predictions_table=settings.required("PREDICTIONS_TABLE"),
            web_origin=settings.required("WEB_ORIGIN"),
            max_upload_bytes=settings.integer("MAX_UPLOAD_BYTES", 10 * 1024 * 1024),
            upload_url_expiry_seconds=expiry,
            presign_endpoint_url=settings.optional("PRESIGN_ENDPOINT_URL", "") or None,
        )
