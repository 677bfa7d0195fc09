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
    # The CDN that serves published photos (template: PhotosDistribution); None locally, where the gate presigns.
    photos_cdn_domain: str | None

    @classmethod
    def from_environment(cls) -> "UploadSettings":
        return cls(
            images_bucket=settings.required("IMAGES_BUCKET"),
            predictions_table=settings.required("PREDICTIONS_TABLE"),
            web_origin=settings.required("WEB_ORIGIN"),
            max_upload_bytes=settings.integer("MAX_UPLOAD_BYTES", 10 * 1024 * 1024),
            upload_url_expiry_seconds=settings.integer_between("UPLOAD_URL_EXPIRY_SECONDS", 300, 1, 300),
            presign_endpoint_url=settings.optional("PRESIGN_ENDPOINT_URL", "") or None,
            # API Gateway gives up at 29 s.
            predict_wait_seconds=settings.integer_between("PREDICT_WAIT_SECONDS", 20, 0, 25),
            display_url_expiry_seconds=settings.integer_between("DISPLAY_URL_EXPIRY_SECONDS", 60, 1, 300),
            photos_cdn_domain=settings.optional("PHOTOS_CDN_DOMAIN", "") or None,
        )
