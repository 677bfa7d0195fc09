"""Upload function: presigns uploads, reports predictions and shows allowed photos (REST API via API Gateway).

POST /predict has a function of its own (`upload.predict_app`, PredictFunction): it holds an environment while it
waits for the classifier, and must never take those of the result API and the display gate.
"""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from photomod_shared.api import create_resolver, public_url
from photomod_shared.clock import utc_now
from photomod_shared.prediction import PredictionView
from upload import display, responses, service
from upload.models import PresignedPost, UploadCreated, UploadRequest
from upload.responses import ERROR_STATUSES
from upload.settings import UploadSettings
from upload.storage import Dependencies
from upload.storage import dependencies as _dependencies

logger = Logger()
settings = UploadSettings.from_environment()
app = create_resolver(settings.web_origin, ERROR_STATUSES, expose_headers=["Location", "X-Image-Id", "X-Error-Code"])


def dependencies() -> Dependencies:
    return _dependencies(settings)


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
def get_prediction(image_id: Annotated[str, Path(max_length=64)]) -> PredictionView:
    prediction = service.get_prediction(
        image_id, now=utc_now(), store=dependencies().store, predictions=dependencies().predictions
    )
    return prediction.view()


@app.get("/predictions", responses=responses.PREDICTION)
def find_prediction_by_key(key: Annotated[str | None, Query(max_length=1100)] = None) -> PredictionView:
    prediction = service.find_prediction_by_key(
        key, now=utc_now(), store=dependencies().store, predictions=dependencies().predictions
    )
    return prediction.view()


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
