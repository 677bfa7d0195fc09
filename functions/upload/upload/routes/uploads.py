"""POST /uploads: a presigned upload, and where its result will be."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from photomod_shared.api import public_url
from photomod_shared.clock import utc_now
from upload import service
from upload.models import PresignedPost, UploadCreated, UploadRequest
from upload.wiring import predictions, settings, store

logger = Logger()
router = Router()


@router.post("/uploads", responses={201: {"description": "Upload presigned"}})
def create_upload(request: UploadRequest) -> Response[UploadCreated]:
    created = service.create_upload(
        request,
        policy=service.UploadPolicy(settings.max_upload_bytes, settings.upload_url_expiry_seconds),
        now=utc_now(),
        store=store(),
        predictions=predictions(),
    )
    logger.info("upload presigned", extra={"image_id": created.image_id})
    body = UploadCreated(
        image_id=created.image_id,
        upload=PresignedPost(**created.upload),
        expires_in=created.expires_in,
        result_url=public_url(router.current_event, f"/predictions/{created.image_id}"),
    )
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)
