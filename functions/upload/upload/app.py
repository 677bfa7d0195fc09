"""Upload function: presigns uploads and reports predictions (REST API via API Gateway)."""

from functools import cache
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from photomod_shared.api import create_resolver
from photomod_shared.clock import utc_now
from photomod_shared.predictions import PredictionTable

from upload import service
from upload.models import UploadCreated, UploadRequest
from upload.settings import UploadSettings
from upload.storage import ImageStore

logger = Logger()
settings = UploadSettings.from_environment()
app = create_resolver(settings.web_origin)


@cache
def collaborators() -> dict[str, Any]:
    """boto3 clients built once per process, on first use; the endpoint comes from AWS_ENDPOINT_URL."""
    sigv4 = Config(signature_version="s3v4")
    s3 = boto3.client("s3", config=sigv4)
    presign_s3 = boto3.client("s3", config=sigv4, endpoint_url=settings.presign_endpoint_url) if (
        settings.presign_endpoint_url
    ) else s3
    table = boto3.resource("dynamodb").Table(settings.predictions_table)
    return {"store": ImageStore(s3, presign_s3, settings.images_bucket), "predictions": PredictionTable(table)}


def result_url(image_id: str) -> str:
    """Absolute URL of the prediction, as the client called us (custom domain or stage URL)."""
    event = app.current_event
    host = event.headers.get("Host") or event.headers.get("host") or ""
    scheme = event.headers.get("X-Forwarded-Proto") or event.headers.get("x-forwarded-proto") or "https"
    stage = event.request_context.stage
    base_path = f"/{stage}" if ".execute-api." in host else ""
    return f"{scheme}://{host}{base_path}/predictions/{image_id}"


@app.post("/uploads", responses={201: {"description": "Upload presigned"}})
def create_upload(request: UploadRequest) -> Response[UploadCreated]:
    created = service.create_upload(
        request,
        policy=service.UploadPolicy(settings.max_upload_bytes, settings.upload_url_expiry_seconds),
        now=utc_now(),
        **collaborators(),
    )
    logger.info("upload presigned", extra={"image_id": created["image_id"]})
    body = UploadCreated(**created, result_url=result_url(created["image_id"]))
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body.model_dump())


@app.get("/predictions/<image_id>")
def get_prediction(image_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    return service.get_prediction(image_id, now=utc_now(), **collaborators())


@app.get("/predictions")
def find_prediction_by_key(key: Annotated[str | None, Query(max_length=1100)] = None) -> dict[str, Any]:
    return service.find_prediction_by_key(key, now=utc_now(), **collaborators())


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
