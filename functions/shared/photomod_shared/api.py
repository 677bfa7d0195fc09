"""What the HTTP functions share: one error body shape, CORS for the web origin, request validation."""

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

logger = Logger()


class ApiError(Exception):
    """A request the API refuses, with the status and machine-readable code the client sees."""

    status = HTTPStatus.BAD_REQUEST
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: HTTPStatus | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status


class InvalidRequest(ApiError):
    status = HTTPStatus.BAD_REQUEST
    code = "invalid_request"


class ImageNotFound(ApiError):
    status = HTTPStatus.NOT_FOUND
    code = "image_not_found"


def error_response(status: HTTPStatus, code: str, message: str) -> Response:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message}},
    )


def describe_validation_errors(errors: Any) -> str:
    """One readable line per problem, e.g. "body.size: Input should be greater than 0"."""
    lines = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        if error.get("type") == "json_invalid":
            lines.append("body: the request body is not valid JSON")
        else:
            lines.append(f"{location}: {error.get('msg', 'invalid value')}")
    return "; ".join(lines) or "the request is invalid"


def create_resolver(web_origin: str) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(
        cors=CORSConfig(allow_origin=web_origin, allow_headers=["Content-Type", "X-Api-Key"], max_age=600),
        enable_validation=True,
    )

    @app.exception_handler(ApiError)
    def handle_api_error(error: ApiError) -> Response:
        return error_response(error.status, error.code, error.message)

    @app.exception_handler(RequestValidationError)
    def handle_validation_error(error: RequestValidationError) -> Response:
        return error_response(HTTPStatus.BAD_REQUEST, "invalid_request", describe_validation_errors(error.errors()))

    @app.not_found
    def handle_not_found(_: NotFoundError) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, "route_not_found", "no such route")

    @app.exception_handler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "an internal error occurred")

    return app
