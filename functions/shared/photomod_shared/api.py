"""What the HTTP functions share: one error body shape, CORS for the web origin, request validation, and the
answer to a domain error (each function's app.py gives the status of each in one table, `ErrorStatuses`)."""

from collections.abc import Callable, Collection, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

from photomod_shared.errors import DomainError

logger = Logger()

# A function's domain errors and the status each is answered with; a subclass takes its closest listed class's.
ErrorStatuses = Mapping[type[DomainError], HTTPStatus]


def status_of(error: DomainError, statuses: ErrorStatuses) -> HTTPStatus | None:
    """The status `statuses` gives this error (or its nearest listed base class); None if none is listed."""
    for kind in type(error).__mro__:
        if kind in statuses:
            return statuses[kind]
    return None


class _BodyNotAnObject(Exception):
    """A JSON body that is not an object (see `require_json_object_body`)."""


def error_response(status: HTTPStatus, code: str, message: str) -> Response:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message}},
    )


# How a domain error is answered, given the status its function's table gives it.
DomainErrorAnswer = Callable[[HTTPStatus, DomainError], Response]


def domain_error_response(status: HTTPStatus, error: DomainError) -> Response:
    """The body every function answers a domain error with (ErrorBody)."""
    return error_response(status, error.code, error.message)


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable, stable: e.g. invalid_request, image_not_found")
    message: str = Field(description="For people; the wording may change")


class ErrorBody(BaseModel):
    """The body of every error a function answers (API Gateway's own errors are {"message": ...})."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI `responses` for the errors a route answers besides 400 and 500 (which every route may)."""
    return {
        status: {"description": HTTPStatus(status).phrase, "content": {"application/json": {"model": ErrorBody}}}
        for status in statuses
    }


def public_url(event: Any, path: str) -> str:
    """Absolute URL of `path` on this API, as the client called it (custom domain or stage URL)."""
    host = event.headers.get("Host") or event.headers.get("host") or ""
    scheme = event.headers.get("X-Forwarded-Proto") or event.headers.get("x-forwarded-proto") or "https"
    base_path = f"/{event.request_context.stage}" if ".execute-api." in host else ""
    return f"{scheme}://{host}{base_path}{path}"


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


def create_resolver(
    web_origin: str,
    error_statuses: ErrorStatuses | None = None,
    *,
    expose_headers: Sequence[str] = (),
    raw_body_resources: Collection[str] = (),
    answer_domain_error: DomainErrorAnswer = domain_error_response,
) -> APIGatewayRestResolver:
    """`web_origin`: the web page's origin; the local stack, whose page has two loopback addresses, gives
    both, comma-separated (on AWS the page has one).
    `error_statuses`: the function's one table of domain errors and their HTTP statuses.
    `expose_headers`: response headers the web page may read besides the CORS-safelisted ones.
    `raw_body_resources`: routes (e.g. "/predict") whose handlers read a non-JSON body themselves.
    `answer_domain_error`: the body of a domain error, for a function that keeps another service's contract
    (POST /predict); the status still comes from `error_statuses`, and every other error keeps ErrorBody."""
    origin, *aliases = [part.strip() for part in web_origin.split(",") if part.strip()] or [web_origin]
    app = APIGatewayRestResolver(
        cors=CORSConfig(
            allow_origin=origin,
            extra_origins=aliases or None,
            allow_headers=["Content-Type", "X-Api-Key", "Authorization"],
            expose_headers=list(expose_headers),
            max_age=600,
        ),
        enable_validation=True,
    )

    def require_json_object_body(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
        # Powertools' validation unwraps a list to its first element (meant for form fields): `[{...}]` would
        # otherwise pass as `{...}`.
        event = app.current_event
        if event.resource not in raw_body_resources and event.body and not isinstance(event.json_body, dict):
            raise _BodyNotAnObject()
        return next_middleware(app)

    app.use(middlewares=[require_json_object_body])

    @app.exception_handler(DomainError)
    def handle_domain_error(error: DomainError) -> Response:
        status = status_of(error, error_statuses or {})
        if status is None:  # a domain error the function's table forgot: a bug, not the client's doing
            logger.exception("domain error without an HTTP status", extra={"code": error.code})
            return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "an internal error occurred")
        return answer_domain_error(status, error)

    @app.exception_handler(_BodyNotAnObject)
    def handle_body_not_an_object(_: _BodyNotAnObject) -> Response:
        return error_response(HTTPStatus.BAD_REQUEST, "invalid_request", "body: the request body must be a JSON object")

    @app.exception_handler(UnicodeDecodeError)
    def handle_undecodable_body(_: UnicodeDecodeError) -> Response:
        return error_response(HTTPStatus.BAD_REQUEST, "invalid_request", "body: the request body is not UTF-8 JSON")

    # json.loads recurses once per nesting level: `[[[[...` a few thousand deep is a client's doing, not a 500.
    @app.exception_handler(RecursionError)
    def handle_overly_nested_body(_: RecursionError) -> Response:
        return error_response(HTTPStatus.BAD_REQUEST, "invalid_request", "body: the request body is nested too deeply")

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
