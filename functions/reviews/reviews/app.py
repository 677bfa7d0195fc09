"""Reviews function: the moderators' review queue (REST API via API Gateway; every route needs a signed-in
moderator: the Cognito authorizer verifies the token, `staff_member` the group)."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from photomod_shared.api import ErrorStatuses, create_resolver, error_responses
from photomod_shared.clients import AwsClients, lazy
from photomod_shared.clock import utc_now
from photomod_shared.errors import (
    ImageNotFound,
    InvalidInput,
    NotBanked,
    NotDecided,
    NotInGroup,
    NotInReview,
    NotSignedIn,
    VersionChanged,
)
from photomod_shared.publication import PublishedRenditions
from photomod_shared.staff import StaffMember, staff_member
from photomod_shared.tables import PhotoBankTable, PredictionTable
from photomod_shared.verdict_events import verdict_publisher
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
    NotBanked: HTTPStatus.CONFLICT,
    VersionChanged: HTTPStatus.CONFLICT,
}

logger = Logger()
settings = ReviewsSettings.from_environment()
app = create_resolver(settings.web_origin, ERROR_STATUSES)


# The adapters, each built on its first use (importing the module makes no clients).
aws = AwsClients()
predictions = lazy(lambda: PredictionTable(aws.table(settings.predictions_table)))
# Links are presigned for the browser's endpoint; copies and deletes go to S3 itself (AWS_ENDPOINT_URL).
links = lazy(lambda: PhotoLinks(aws.client("s3", endpoint_url=settings.presign_endpoint_url), settings.images_bucket))
verdicts = lazy(lambda: verdict_publisher(settings.event_bus_name, settings.verdict_outbox_url, aws.client))
publisher = lazy(lambda: PublishedRenditions(aws.client("s3"), settings.images_bucket))
bank = lazy(lambda: PhotoBankTable(aws.table(settings.photo_bank_table)) if settings.photo_bank_table else None)


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
        link_expires_in=settings.review_image_url_expiry_seconds,
        predictions=predictions(),
        links=links(),
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
        predictions=predictions(),
        now=utc_now(),
        publisher=publisher(),
        verdicts=verdicts(),
        bank=bank(),
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
        predictions=predictions(),
        now=utc_now(),
        publisher=publisher(),
        bank=bank(),
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
    return service.review_history(image_id, predictions=predictions())


@app.get(
    "/bank/<image_id>",
    summary="A banked photo's hash: who banked it (a moderator's block) and when, and whether it was removed",
    responses={200: {"description": "The bank's entry"}, **error_responses(400, 401, 403, 404)},
)
def get_banked_photo(image_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    moderator()
    return service.banked_photo(image_id, bank=bank())


@app.delete(
    "/bank/<image_id>",
    summary="Remove a photo's hash from the bank: its copies are no longer blocked automatically",
    responses={200: {"description": "The entry, marked removed"}, **error_responses(400, 401, 403, 404, 409)},
)
def remove_banked_photo(image_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    who = moderator()
    removed = service.remove_from_bank(image_id, by=who, bank=bank(), now=utc_now())
    logger.info("hash removed from the bank", extra={"image_id": image_id, "by": who.sub})
    return removed


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
