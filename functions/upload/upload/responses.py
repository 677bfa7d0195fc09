"""The upload routes' documented responses (OpenAPI, via the resolver's `responses=`), beside the models.

400 and 500 need no entry: infra.apidocs.openapi adds them to every route, as `photomod_shared.api` answers them.
"""

from http import HTTPStatus

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader

from photomod_shared.api import ErrorStatuses, error_responses
from photomod_shared.errors import (
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
from photomod_shared.prediction import PredictionView
from upload.models import PredictReply

# Every domain error the upload package's two handlers (upload.app, upload.predict_app) answer, and its status
# (POST /predict sends the code in X-Error-Code).
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


def _header(description: str) -> OpenAPIResponseHeader:
    return {"description": description, "schema": {"type": "string"}}


def _predict_reply(description: str, **headers: str) -> OpenAPIResponse:
    return {
        "description": description,
        "headers": {name.replace("_", "-"): _header(text) for name, text in headers.items()},
        "content": {"application/json": {"model": PredictReply}},
    }


PREDICTION: dict[int, OpenAPIResponse] = {
    200: {
        "description": "The image, pending, done or failed",
        "content": {"application/json": {"model": PredictionView}},
    },
    **error_responses(404),
}

PREDICT: dict[int, OpenAPIResponse] = {
    200: _predict_reply("Classified", Location="The prediction's URL", X_Image_Id="The image id"),
    202: _predict_reply(
        "Stored, not classified yet: poll Location",
        Location="The prediction's URL",
        X_Image_Id="The image id",
        Retry_After="Seconds",
    ),
    400: _predict_reply("No photo, not a photo, or one that could not be classified", X_Error_Code="Why"),
    413: _predict_reply("The photo is over the size limit", X_Error_Code="file_too_large"),
}

PREDICT_WRONG_METHOD: dict[int, OpenAPIResponse] = {
    405: _predict_reply("Only POST classifies", Allow="POST", X_Error_Code="method_not_allowed"),
}

IMAGE: dict[int, OpenAPIResponse] = {
    302: {
        "description": "The photo may be shown: a short-lived presigned URL",
        "headers": {"Location": _header("The photo's presigned URL")},
        "content": {"text/plain": {"schema": {"type": "string", "maxLength": 0}}},
    },
    **error_responses(403, 404, 409),
}
