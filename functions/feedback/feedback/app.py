"""Feedback function: shoppers report wrong predictions (REST API via API Gateway)."""

from functools import cache
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext
from photomod_shared.api import create_resolver
from photomod_shared.clock import utc_now
from photomod_shared.predictions import PredictionTable

from feedback.models import FeedbackRecorded, FeedbackRequest
from feedback.service import record_feedback
from feedback.settings import FeedbackSettings
from feedback.storage import FeedbackTable

logger = Logger()
settings = FeedbackSettings.from_environment()
app = create_resolver(settings.web_origin)


@cache
def collaborators() -> dict[str, Any]:
    dynamodb = boto3.resource("dynamodb")
    return {
        "predictions": PredictionTable(dynamodb.Table(settings.predictions_table)),
        "feedback": FeedbackTable(dynamodb.Table(settings.feedback_table)),
    }


@app.post("/predictions/<image_id>/feedback", responses={201: {"description": "Feedback recorded"}})
def post_feedback(image_id: Annotated[str, Path(max_length=64)], request: FeedbackRequest) -> Response[FeedbackRecorded]:
    recorded = record_feedback(image_id, request, now=utc_now(), **collaborators())
    logger.info("feedback recorded", extra={"image_id": image_id})
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=recorded)


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
