"""Predict function: POST /predict, the original service's synchronous contract (REST API via API Gateway).

A function of its own, with reserved concurrency (template.yaml's PredictFunction): each call holds an environment
while it waits up to PREDICT_WAIT_SECONDS for the classifier, so a burst of them is throttled here and can never
take the environments of the result API and the display gate (upload.app, UploadFunction).
"""

import base64
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from photomod_shared.api import create_resolver, public_url
from photomod_shared.clients import AwsClients, lazy
from photomod_shared.clock import utc_now
from photomod_shared.errors import DomainError
from photomod_shared.prediction import STATUS_DONE, STATUS_FAILED
from photomod_shared.tables import PredictionTable
from upload import predict, responses
from upload.responses import ERROR_STATUSES
from upload.settings import PredictSettings
from upload.storage import image_store

logger = Logger()
settings = PredictSettings.from_environment()
# Time kept back from the function's timeout while /predict waits: storing the photo and answering.
PREDICT_MARGIN_S = 3


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


def predict_refusal(status: HTTPStatus, refused: DomainError) -> Response[dict[str, Any]]:
    """A domain error (the shared resolver's one path gives its status): the original body, the code in a header."""
    logger.info("predict refused", extra={"code": refused.code, "reason": refused.message})
    return predict_reply(status, {"X-Error-Code": refused.code})


app = create_resolver(
    settings.web_origin,
    ERROR_STATUSES,
    expose_headers=["Location", "X-Image-Id", "X-Error-Code", "Retry-After"],
    raw_body_resources=["/predict"],
    answer_domain_error=predict_refusal,
)

# The adapters, each built on its first use (importing the module makes no clients).
aws = AwsClients()
store = lazy(lambda: image_store(aws, settings))
predictions = lazy(lambda: PredictionTable(aws.table(settings.predictions_table)))


@app.post("/predict", responses=responses.PREDICT)
def post_predict() -> Response[dict[str, Any]]:
    """Classifies one photo synchronously, as the original service did (multipart field `file`, or an image body)."""
    event = app.current_event
    body = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode()
    remaining_s = app.lambda_context.get_remaining_time_in_millis() / 1000
    photo = predict.read_photo(body, event.headers.get("Content-Type"), settings.max_upload_bytes)
    outcome = predict.predict(
        photo,
        wait_seconds=max(0.0, min(settings.predict_wait_seconds, remaining_s - PREDICT_MARGIN_S)),
        now=utc_now(),
        store=store(),
        predictions=predictions(),
    )
    found = {"Location": public_url(event, f"/predictions/{outcome.image_id}"), "X-Image-Id": outcome.image_id}
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


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
