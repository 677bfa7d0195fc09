"""Upload function: presigns uploads and reports predictions (REST API via API Gateway)."""

import base64
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from photomod_shared.api import ErrorStatuses, create_resolver, public_url, status_of
from photomod_shared.clock import utc_now
from photomod_shared.errors import (
    DomainError,
    FileTooLarge,
    ImageBlocked,
    ImageFailed,
    ImageInReview,
    ImageNotFound,
    ImagePending,
    ImageUnverified,
    InvalidInput,
    MalformedRequest,
    MissingFile,
    UnsupportedMediaType,
)
from photomod_shared.prediction import STATUS_DONE, STATUS_FAILED
from photomod_shared.prediction_table import PredictionTable
from upload import display, predict, responses, service
from upload.models import PresignedPost, UploadCreated, UploadRequest
from upload.settings import UploadSettings
from upload.storage import ImageStore

# Every domain error this function answers, and its status (POST /predict sends the code in X-Error-Code).
ERROR_STATUSES: ErrorStatuses = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    UnsupportedMediaType: HTTPStatus.BAD_REQUEST,
    MissingFile: HTTPStatus.BAD_REQUEST,
    MalformedRequest: HTTPStatus.BAD_REQUEST,
    FileTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    ImageNotFound: HTTPStatus.NOT_FOUND,
    ImageBlocked: HTTPStatus.FORBIDDEN,
    ImageInReview: HTTPStatus.FORBIDDEN,
    ImagePending: HTTPStatus.CONFLICT,
    ImageFailed: HTTPStatus.CONFLICT,
    ImageUnverified: HTTPStatus.CONFLICT,
}

logger = Logger()
settings = UploadSettings.from_environment()
# Time kept back from the function's timeout while /predict waits: storing the photo and answering.
PREDICT_MARGIN_S = 3
app = create_resolver(
    settings.web_origin,
    ERROR_STATUSES,
    expose_headers=["Location", "X-Image-Id", "X-Error-Code", "Retry-After"],
    raw_body_resources=["/predict"],
)


@dataclass(frozen=True)
class Dependencies:
    store: ImageStore
    predictions: PredictionTable

    @classmethod
    def from_settings(cls, settings: UploadSettings) -> "Dependencies":
        """boto3 clients built once per process; the endpoint comes from AWS_ENDPOINT_URL."""
        sigv4 = Config(signature_version="s3v4")
        s3 = boto3.client("s3", config=sigv4)
        presign_s3 = (
            boto3.client("s3", config=sigv4, endpoint_url=settings.presign_endpoint_url)
            if settings.presign_endpoint_url
            else s3
        )
        table = boto3.resource("dynamodb").Table(settings.predictions_table)
        return cls(ImageStore(s3, presign_s3, settings.images_bucket), PredictionTable(table))


@cache
def dependencies() -> Dependencies:
    """Built once per process, on the first request (importing the module, e.g. for the OpenAPI document,
    makes no clients)."""
    return Dependencies.from_settings(settings)


def result_url(image_id: str) -> str:
    return public_url(app.current_event, f"/predictions/{image_id}")


@app.post("/uploads", responses={201: {"description": "Upload presigned"}})
def create_upload(request: UploadRequest) -> Response[UploadCreated]:
    created = service.create_upload(
        request,
        policy=service.UploadPolicy(settings.max_upload_bytes, settings.upload_url_expiry_seconds),
        now=utc_now(),
        store=dependencies().store,
        predictions=dependencies().predictions,
    )
    logger.info("upload presigned", extra={"image_id": created.image_id})
    body = UploadCreated(
        image_id=created.image_id,
        upload=PresignedPost(**created.upload),
        expires_in=created.expires_in,
        result_url=result_url(created.image_id),
    )
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


@app.get("/predictions/<image_id>", responses=responses.PREDICTION)
def get_prediction(image_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    prediction = service.get_prediction(
        image_id, now=utc_now(), store=dependencies().store, predictions=dependencies().predictions
    )
    return prediction.view()


@app.get("/predictions", responses=responses.PREDICTION)
def find_prediction_by_key(key: Annotated[str | None, Query(max_length=1100)] = None) -> dict[str, Any]:
    prediction = service.find_prediction_by_key(
        key, now=utc_now(), store=dependencies().store, predictions=dependencies().predictions
    )
    return prediction.view()


def predict_reply(
    status: HTTPStatus, headers: dict[str, str], prediction: str | None = None, score: float | None = None
) -> Response[dict[str, Any]]:
    """The original service's body, exactly: success, prediction, score. Anything else goes in headers."""
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body={"success": status == HTTPStatus.OK, "prediction": prediction, "score": score},
        headers=headers,
    )


@app.post("/predict", responses=responses.PREDICT)
def post_predict() -> Response[dict[str, Any]]:
    """Classifies one photo synchronously, as the original service did (multipart field `file`, or an image body)."""
    event = app.current_event
    body = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode()
    remaining_s = app.lambda_context.get_remaining_time_in_millis() / 1000
    try:
        photo = predict.read_photo(body, event.headers.get("Content-Type"), settings.max_upload_bytes)
        outcome = predict.predict(
            photo,
            wait_seconds=max(0.0, min(settings.predict_wait_seconds, remaining_s - PREDICT_MARGIN_S)),
            now=utc_now(),
            store=dependencies().store,
            predictions=dependencies().predictions,
        )
    except DomainError as refused:
        status = status_of(refused, ERROR_STATUSES)
        if status is None:
            raise
        # The original service's body; the reason goes in a header.
        logger.info("predict refused", extra={"code": refused.code, "reason": refused.message})
        return predict_reply(status, {"X-Error-Code": refused.code})
    found = {"Location": result_url(outcome.image_id), "X-Image-Id": outcome.image_id}
    logger.info("predict answered", extra={"image_id": outcome.image_id, "status": outcome.status})
    if outcome.status == STATUS_DONE:
        return predict_reply(HTTPStatus.OK, found, outcome.prediction, outcome.score)
    if outcome.status == STATUS_FAILED:
        return predict_reply(HTTPStatus.BAD_REQUEST, {**found, "X-Error-Code": outcome.error_code or "failed"})
    return predict_reply(HTTPStatus.ACCEPTED, {**found, "Retry-After": "2"})


@app.get("/predict", responses=responses.PREDICT_WRONG_METHOD)
def get_predict() -> Response[dict[str, Any]]:
    # API Gateway would answer a method without a route with 403; the original service said 405.
    return predict_reply(HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "POST", "X-Error-Code": "method_not_allowed"})


@app.get("/images/<image_id>", responses=responses.IMAGE)
def show_image(image_id: Annotated[str, Path(max_length=64)]) -> Response[str]:
    """302 to a short-lived URL of the photo if its verdict is allow; see upload.display for the refusals."""
    url = display.display_url(
        image_id,
        expires_in=settings.display_url_expiry_seconds,
        store=dependencies().store,
        predictions=dependencies().predictions,
        cdn_domain=settings.photos_cdn_domain,
    )
    # The URL expires within a minute: neither the browser nor a CDN may keep the redirect.
    return Response(
        status_code=HTTPStatus.FOUND.value,
        content_type=content_types.TEXT_PLAIN,
        body="",
        headers={"Location": url, "Cache-Control": "no-store"},
    )


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
