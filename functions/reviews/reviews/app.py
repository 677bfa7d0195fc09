"""Reviews function: the moderators' review queue (REST API via API Gateway; every route needs the API key)."""

from functools import cache
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from photomod_shared.api import create_resolver, error_responses
from photomod_shared.clock import utc_now
from photomod_shared.predictions import PredictionTable
from reviews import service
from reviews.models import ReviewDecision
from reviews.settings import ReviewsSettings
from reviews.storage import PhotoLinks

logger = Logger()
settings = ReviewsSettings.from_environment()
app = create_resolver(settings.web_origin)


@cache
def collaborators() -> dict[str, Any]:
    """boto3 clients built once per process, on first use; the endpoint comes from AWS_ENDPOINT_URL."""
    s3 = boto3.client("s3", config=Config(signature_version="s3v4"), endpoint_url=settings.presign_endpoint_url)
    table = boto3.resource("dynamodb").Table(settings.predictions_table)
    return {"predictions": PredictionTable(table), "links": PhotoLinks(s3, settings.images_bucket)}


@app.get("/reviews")
def list_reviews(
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = service.DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    return service.list_reviews(limit, cursor, link_expires_in=settings.image_url_expiry_seconds, **collaborators())


@app.post(
    "/reviews/<image_id>", responses={200: {"description": "The decision is recorded"}, **error_responses(404, 409)}
)
def settle_review(image_id: Annotated[str, Path(max_length=64)], request: ReviewDecision) -> dict[str, Any]:
    settled = service.settle_review(image_id, request, predictions=collaborators()["predictions"], now=utc_now())
    logger.info("review settled", extra={"image_id": image_id, "decision": request.decision})
    return settled


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
