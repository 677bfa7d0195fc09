from pydantic import Field

from photomod_shared.settings import ApiSettings, OptionalText


class ImageStoreSettings(ApiSettings):
    """What both functions of the package (UploadFunction, PredictFunction) are given."""

    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1)
    # Only where the browser reaches S3 at another address than this function does (e.g. inside Docker).
    presign_endpoint_url: OptionalText = None


class UploadSettings(ImageStoreSettings):
    """The upload function's (UploadFunction: presigned uploads, results, the display gate) environment."""

    upload_url_expiry_seconds: int = Field(300, ge=1, le=300)
    display_url_expiry_seconds: int = Field(60, ge=1, le=300)
    # The CDN that serves published photos (template: PhotosDistribution); None locally, where the gate presigns.
    photos_cdn_domain: OptionalText = None


class PredictSettings(ImageStoreSettings):
    """The predict function's (PredictFunction: POST /predict) environment."""

    # How long POST /predict waits for the classifier before answering 202; API Gateway gives up at 29 s.
    predict_wait_seconds: int = Field(20, ge=0, le=25)
