"""POST /rekognition: Amazon Rekognition's DetectModerationLabels (JSON 1.1), judged synchronously.

Runs from the classifier's image with the queue's classifier's own models, policy and limits (classify.app builds
them, once per execution environment, on the first request: importing this module loads no model); nothing is
stored. The body and the errors are Rekognition's, not this API's `{"error": ...}` (classify.rekognition).
"""

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from classify.judging import JudgedPhoto, judge_photo
from classify.rekognition import CONTENT_TYPE, RekognitionError, detect_moderation_labels, parse_request
from classify.service import Classification
from photomod_shared.clients import lazy

logger = Logger()
app = APIGatewayRestResolver()

_JSON_11: dict[str, Any] = {CONTENT_TYPE: {"schema": {"type": "object"}}}
_ERROR: dict[str, Any] = {
    CONTENT_TYPE: {
        "schema": {
            "type": "object",
            "properties": {"__type": {"type": "string"}, "message": {"type": "string"}},
            "required": ["__type", "message"],
        },
        "example": {"__type": "InvalidImageFormatException", "message": "the file is not a supported image"},
    }
}


def _queue_classification() -> Classification:
    """The queue classifier's models, policy and limits (one home: classify.app)."""
    from classify.app import work

    return work


classification = lazy(_queue_classification)


@app.post(
    "/rekognition",
    summary="Rekognition's DetectModerationLabels (JSON 1.1)",
    description="For boto3's and the other AWS SDKs' `rekognition` clients with `endpoint_url=<API>/rekognition` "
    "and the API key in X-Api-Key (docs/integrations.md). Header `X-Amz-Target: "
    "RekognitionService.DetectModerationLabels`; body and answers as Rekognition documents them, plus our verdict "
    "in X-Photomod-Verdict.",
    responses={
        200: {"description": "ModerationLabels, ModerationModelVersion, ContentTypes", "content": _JSON_11},
        400: {
            "description": "Rekognition's exception name in __type (InvalidImageFormatException, …)",
            "content": _ERROR,
        },
        500: {"description": "InternalServerError (the SDKs retry it)", "content": _ERROR},
    },
)
def detect() -> Response[str]:
    event = app.current_event
    request_id = event.request_context.request_id
    judged: list[JudgedPhoto] = []

    def judge(data: bytes) -> JudgedPhoto:
        judged.append(judge_photo(data, classification()))
        return judged[-1]

    try:
        request = parse_request(event.get_header_value("X-Amz-Target"), event.decoded_body or "")
        result = detect_moderation_labels(request, classification().photos.read, judge)
    except RekognitionError as error:
        logger.info("DetectModerationLabels refused", extra={"error": error.name, "reason": error.message})
        return _answer(error.status, error.to_dict(), request_id, {"x-amzn-ErrorType": error.name})
    except Exception:
        logger.exception("DetectModerationLabels failed")
        failure = RekognitionError("InternalServerError", "the photo could not be judged; try again")
        return _answer(failure.status, failure.to_dict(), request_id, {"x-amzn-ErrorType": failure.name})
    # Our own verdict travels beside Rekognition's shape (the SDKs ignore headers they do not model).
    verdict = judged[-1].verdict
    extra = {"X-Photomod-Verdict": verdict.action, "X-Photomod-Policy-Version": verdict.policy_version}
    return _answer(200, result, request_id, extra)


def _answer(status: int, body: dict[str, Any], request_id: str, headers: dict[str, str]) -> Response[str]:
    return Response(
        status_code=status,
        content_type=CONTENT_TYPE,
        body=json.dumps(body),
        headers={"x-amzn-RequestId": request_id, **headers},
    )


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
