"""Feedback function: shoppers report wrong predictions (REST API via API Gateway)."""

from http import HTTPStatus
from typing import Annotated
from urllib.parse import urlencode

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from feedback import export
from feedback.models import FeedbackRecorded, FeedbackRequest
from feedback.service import record_feedback
from feedback.settings import FeedbackSettings
from photomod_shared.api import ErrorStatuses, create_resolver, error_responses, public_url
from photomod_shared.clients import AwsClients, lazy
from photomod_shared.clock import utc_now
from photomod_shared.errors import ImageNotFound, InvalidInput, NotInGroup, NotSignedIn
from photomod_shared.publication import PublishedRenditions
from photomod_shared.staff import staff_member
from photomod_shared.tables import FeedbackTable, PredictionTable, ReportQuotaTable
from photomod_shared.verdict_events import verdict_publisher

# Every domain error this function answers, and its status.
ERROR_STATUSES: ErrorStatuses = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    NotSignedIn: HTTPStatus.UNAUTHORIZED,
    NotInGroup: HTTPStatus.FORBIDDEN,
    ImageNotFound: HTTPStatus.NOT_FOUND,
}

logger = Logger()
settings = FeedbackSettings.from_environment()
# A page's next-page headers, for an analysts' page on the web origin.
app = create_resolver(
    settings.web_origin, ERROR_STATUSES, expose_headers=["Link", "X-Next-Cursor", "Content-Disposition"]
)


# The adapters, each built on its first use (importing the module makes no clients).
aws = AwsClients()
predictions = lazy(lambda: PredictionTable(aws.table(settings.predictions_table)))
feedback_table = lazy(lambda: FeedbackTable(aws.table(settings.feedback_table)))
verdicts = lazy(lambda: verdict_publisher(settings.event_bus_name, settings.verdict_outbox_url, aws.client))
report_quota = lazy(lambda: ReportQuotaTable(aws.table(settings.report_limits_table)))
publisher = lazy(lambda: PublishedRenditions(aws.client("s3"), settings.images_bucket))


@app.post(
    "/predictions/<image_id>/feedback", responses={201: {"description": "Feedback recorded"}, **error_responses(404)}
)
def post_feedback(
    image_id: Annotated[str, Path(max_length=64)], request: FeedbackRequest
) -> Response[FeedbackRecorded]:
    recorded = record_feedback(
        image_id,
        request,
        now=utc_now(),
        predictions=predictions(),
        feedback=feedback_table(),
        verdicts=verdicts(),
        # API Gateway's view of the TCP peer; a client cannot set it (X-Forwarded-For it can).
        source_ip=app.current_event.request_context.identity.source_ip or "",
        quota=report_quota(),
        hides_per_address=settings.report_hides_per_address,
        publisher=publisher(),
    )
    logger.info("feedback recorded", extra={"image_id": image_id})
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=FeedbackRecorded(**recorded))


CSV_EXPORT_RESPONSE: OpenAPIResponse = {
    "description": "One page of feedback as CSV (RFC 4180, header row first, formula-like cells prefixed with ')",
    "headers": {
        "Link": {
            "description": 'The next page, `<url>; rel="next"`; absent on the last page',
            "schema": {"type": "string"},
        },
        "X-Next-Cursor": {
            "description": "The next page's cursor, for `?cursor=`; absent on the last page",
            "schema": {"type": "string"},
        },
    },
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


@app.get(
    "/feedback.csv",
    summary="Export feedback for analysts (CSV, paged)",
    responses={200: CSV_EXPORT_RESPONSE, **error_responses(401, 403)},
)
def export_feedback_csv(
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=export.MAX_PAGE_SIZE,
            description=f"Rows per page (default {export.DEFAULT_PAGE_SIZE}, at most {export.MAX_PAGE_SIZE}; "
            f"a page also stops at {export.MAX_PAGE_BYTES // 2**20} MB)",
        ),
    ] = export.DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(max_length=export.MAX_CURSOR_LENGTH, description="Opaque; from the previous page's X-Next-Cursor"),
    ] = None,
) -> Response[str]:
    analyst = staff_member(app.current_event.raw_event, settings.export_group)
    page = export.export_feedback_page(feedback_table(), limit=limit, cursor=cursor, moderations=predictions())
    headers = {"Content-Disposition": 'attachment; filename="feedback.csv"', "Cache-Control": "no-store"}
    if page.next_cursor:
        query = urlencode({"limit": limit, "cursor": page.next_cursor})
        next_url = public_url(app.current_event, f"/feedback.csv?{query}")
        headers.update({"Link": f'<{next_url}>; rel="next"', "X-Next-Cursor": page.next_cursor})
    logger.info("feedback exported", extra={"rows": page.rows, "more": bool(page.next_cursor), "by": analyst.sub})
    return Response(status_code=200, content_type="text/csv; charset=utf-8", body=page.body, headers=headers)


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
