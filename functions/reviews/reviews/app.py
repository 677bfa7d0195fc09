"""Reviews function: the moderators' review queue (REST API via API Gateway; every route needs a signed-in
moderator: the Cognito authorizer verifies the token, `staff_member` the group)."""

from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from photomod_shared.api import ErrorStatuses, create_resolver, error_responses
from photomod_shared.clock import utc_now
from photomod_shared.errors import (
    ImageNotFound,
    InvalidInput,
    NotDecided,
    NotInGroup,
    NotInReview,
    NotSignedIn,
    VersionChanged,
)
from photomod_shared.publication import PublishedRenditions
from photomod_shared.staff import StaffMember, staff_member
from photomod_shared.tables import PredictionTable
from photomod_shared.verdict_events import VerdictPublisher, verdict_publisher
from reviews import service
from reviews.models import ReviewDecision, UndoRequest
from reviews.settings import ReviewsSettings
from reviews.storage import PhotoLinks

# Every domain error this function answers, and its status.
ERROR_STATUSES: ErrorStatuses = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    NotSignedIn: HTTPStatus.UNAUTHORIZED,
    NotInGroup: HTTPStatus.FORBIDDEN,
    ImageNotFound: HTTPStatus.NOT_FOUND,
    NotInReview: HTTPStatus.CONFLICT,
    NotDecided: HTTPStatus.CONFLICT,
    VersionChanged: HTTPStatus.CONFLICT,
}

logger = Logger()
settings = ReviewsSettings.from_environment()
app = create_resolver(settings.web_origin, ERROR_STATUSES)


@dataclass(frozen=True)
class Dependencies:
    predictions: PredictionTable
    links: PhotoLinks
    verdicts: VerdictPublisher
    publisher: PublishedRenditions

    @classmethod
    def from_settings(cls, settings: ReviewsSettings) -> "Dependencies":
        """boto3 clients; the endpoint comes from AWS_ENDPOINT_URL (the presigning one may differ)."""
        s3 = boto3.client("s3", config=Config(signature_version="s3v4"), endpoint_url=settings.presign_endpoint_url)
        table = boto3.resource("dynamodb").Table(settings.predictions_table)
        verdicts = verdict_publisher(settings.event_bus_name, settings.verdict_outbox_url, boto3.client)
        # Copies and deletes go to S3 itself (AWS_ENDPOINT_URL), not to the presigning endpoint.
        publisher = PublishedRenditions(boto3.client("s3"), settings.images_bucket)
        return cls(PredictionTable(table), PhotoLinks(s3, settings.images_bucket), verdicts, publisher)


@cache
def dependencies() -> Dependencies:
    """Built once per process, on the first request (importing the module makes no clients)."""
    return Dependencies.from_settings(settings)


def moderator() -> StaffMember:
    return staff_member(app.current_event.raw_event, settings.staff_group)


@app.get(
    "/reviews", responses={200: {"description": "One page of the queue, newest first"}, **error_responses(401, 403)}
)
def list_reviews(
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = service.DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    moderator()
    return service.list_reviews(
        limit,
        cursor,
        link_expires_in=settings.image_url_expiry_seconds,
        predictions=dependencies().predictions,
        links=dependencies().links,
    )


@app.post(
    "/reviews/<image_id>",
    responses={200: {"description": "The decision is recorded"}, **error_responses(401, 403, 404, 409)},
)
def settle_review(image_id: Annotated[str, Path(max_length=64)], request: ReviewDecision) -> dict[str, Any]:
    who = moderator()
    settled = service.settle_review(
        image_id,
        request,
        by=who,
        predictions=dependencies().predictions,
        now=utc_now(),
        publisher=dependencies().publisher,
        verdicts=dependencies().verdicts,
    )
    logger.info("review settled", extra={"image_id": image_id, "decision": request.decision, "by": who.sub})
    return settled


@app.post(
    "/reviews/<image_id>/undo",
    summary="Take back a moderator's decision: the photo is hidden and in review again (in the audit trail)",
    responses={200: {"description": "The decision is taken back"}, **error_responses(401, 403, 404, 409)},
)
def undo_review(image_id: Annotated[str, Path(max_length=64)], request: UndoRequest) -> dict[str, Any]:
    who = moderator()
    undone = service.undo_review(
        image_id,
        request.object_version,
        by=who,
        predictions=dependencies().predictions,
        now=utc_now(),
        publisher=dependencies().publisher,
    )
    logger.info("review undone", extra={"image_id": image_id, "by": who.sub})
    return undone


@app.get(
    "/reviews/<image_id>/history",
    summary="A photo's audit trail: every moderator's decision (who, when, which version) and its reports",
    responses={200: {"description": "The photo's decisions, oldest first"}, **error_responses(401, 403, 404)},
)
def get_review_history(image_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    moderator()
    return service.review_history(image_id, predictions=dependencies().predictions)


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
