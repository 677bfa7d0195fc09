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
    # How long POST /predict waits for the classifier before answering 202; under API Gateway's 29 s.
    predict_wait_seconds: int
    display_url_expiry_seconds: int

    @classmethod
    def from_environment(cls) -> "UploadSettings":
        expiry = settings.integer("UPLOAD_URL_EXPIRY_SECONDS", 300)
        if not 1 <= expiry <= 300:
            raise settings.MissingSetting("UPLOAD_URL_EXPIRY_SECONDS must be between 1 and 300")
        predict_wait = settings.integer("PREDICT_WAIT_SECONDS", 20)
        if not 0 <= predict_wait <= 25:
            raise settings.MissingSetting("PREDICT_WAIT_SECONDS must be between 0 and 25 (API Gateway gives up at 29)")
        display_expiry = settings.integer("DISPLAY_URL_EXPIRY_SECONDS", 60)
        if not 1 <= display_expiry <= 300:
            raise settings.MissingSetting("DISPLAY_URL_EXPIRY_SECONDS must be between 1 and 300")
        return cls(
            images_bucket=settings.required("IMAGES_BUCKET"),
            predictions_table=settings.required("PREDICTIONS_TABLE"),
            web_origin=settings.required("WEB_ORIGIN"),
            max_upload_bytes=settings.integer("MAX_UPLOAD_BYTES", 10 * 1024 * 1024),
            upload_url_expiry_seconds=expiry,
            presign_endpoint_url=settings.optional("PRESIGN_ENDPOINT_URL", "") or None,
            predict_wait_seconds=predict_wait,
            display_url_expiry_seconds=display_expiry,
        )
