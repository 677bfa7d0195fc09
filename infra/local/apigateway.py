"""API Gateway (REST API, Lambda proxy integration) in front of the local function pools.

Routes, stage, CORS and binary media types come from the template's `AWS::Serverless::Api` and the
functions' `Api` events. Events have the shape API Gateway sends; responses are translated back the way
API Gateway does, including its own error bodies.

API Gateway waits at most 29 s for an integration: a request that gets no environment, or no answer, in
that time gets its 504. A function whose environments are all busy, with a full queue of waiting
requests, is throttled: 429, as API Gateway answers when Lambda refuses an invocation for concurrency.
"""

import base64
import fnmatch
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any, Protocol

from werkzeug.datastructures import Headers
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from infra.local.authorizer import Authorized, Refused
from infra.local.invoker import FunctionPool, Throttled, WaitTimedOut
from infra.rest_api import MAX_PAYLOAD_BYTES, ApiSettings, Route

INTEGRATION_TIMEOUT_S = 29.0  # API Gateway's default (and, for REST APIs, usual maximum) integration timeout
# Invocations in flight at once, those the gateway gave up on included (they run on to their own timeout). Far above
# what the functions' environments and waiting queues admit, so it never delays a request.
MAX_INTEGRATIONS = 512


class Authorizer(Protocol):
    def authorize(self, headers: Mapping[str, str]) -> Authorized | Refused: ...


def _werkzeug_rule(resource: str) -> str:
    rule = resource.replace("{proxy+}", "<path:proxy>")
    return "".join(f"<{part[1:-1]}>" if part.startswith("{") else part for part in _split_keep(rule))


def _split_keep(path: str) -> Iterable[str]:
    token = ""
    for char in path:
        if char == "{":
            if token:
                yield token
            token = char
        elif char == "}":
            yield token + char
            token = ""
        else:
            token += char
    if token:
        yield token


def _gateway_error(status: int, message: str, settings: ApiSettings) -> Response:
    response = Response(json.dumps({"message": message}), status=status, mimetype="application/json")
    response.headers.update(settings.gateway_responses.get("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX", {}))
    error_types = {
        "Missing Authentication Token": "MissingAuthenticationTokenException",
        "Forbidden": "ForbiddenException",
        "Too Many Requests": "TooManyRequestsException",
        "Unauthorized": "UnauthorizedException",
        "The incoming token has expired": "UnauthorizedException",
    }
    response.headers["x-amzn-ErrorType"] = error_types.get(message) or {413: "RequestTooLong"}.get(
        status, "InternalServerErrorException"
    )
    response.from_gateway = True  # type: ignore[attr-defined]
    return response


class RestApi:
    """A WSGI application: request -> proxy event -> function -> response."""

    def __init__(
        self,
        settings: ApiSettings,
        routes: list[Route],
        invoke: Callable[[str, dict[str, Any]], Any],
        api_keys: Iterable[str] = (),
        access_log: Callable[[str], object] = print,
        integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
        origin_aliases: Iterable[str] = (),
        authorizers: Mapping[str, Authorizer] | None = None,
    ):
        """`origin_aliases`: other origins of the same web page (the local stack serves its page at both
        localhost and 127.0.0.1); the gateway's own CORS answers name them instead of the configured origin.
        `authorizers`: the Api's authorizers by name (infra/local/authorizer.py); a route naming one that is
        missing is refused (500), never let through."""
        self.settings = settings
        self.integration_timeout_s = integration_timeout_s
        self._origin_aliases = frozenset(origin_aliases)
        self.routes = routes
        self._invoke = invoke
        self._api_keys = set(api_keys)
        self._authorizers = dict(authorizers or {})
        self._access_log = access_log
        self._map = Map(
            [Rule(_werkzeug_rule(r.resource), methods=[r.method], endpoint=r, strict_slashes=False) for r in routes]
        )
        # Reused threads: starting one per request waits for it to be scheduled, which on a loaded machine added
        # tens of milliseconds to the API's p99 (docs/benchmark.md, the local API under load).
        self._integrations = ThreadPoolExecutor(MAX_INTEGRATIONS, thread_name_prefix="integration")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        started = time.monotonic()
        response = self._dispatch(request)
        if getattr(response, "from_gateway", False):
            self._answer_origin_alias(request, response)
        self._access_log(
            f"{request.method} {request.full_path.rstrip('?')} -> {response.status_code} "
            f"({(time.monotonic() - started) * 1000:.0f} ms)"
        )
        return response

    def _dispatch(self, request: Request) -> Response:
        adapter = self._map.bind("localhost")
        if request.method == "OPTIONS" and self.settings.cors:
            try:
                adapter.match(request.path, method="GET")
            except MethodNotAllowed:
                pass
            except (NotFound, RequestRedirect):
                return _gateway_error(403, "Missing Authentication Token", self.settings)
            preflight = Response(status=200, headers=self.settings.cors, mimetype="application/json")
            preflight.from_gateway = True  # type: ignore[attr-defined]
            return preflight
        try:
            route, path_parameters = adapter.match(request.path, method=request.method)
        except (NotFound, MethodNotAllowed, RequestRedirect):  # a redirect: werkzeug would merge "//"; AWS does not
            return _gateway_error(403, "Missing Authentication Token", self.settings)
        if request.method != route.method:  # werkzeug matches HEAD to a GET rule; API Gateway has no HEAD method
            return _gateway_error(403, "Missing Authentication Token", self.settings)
        claims: dict[str, str] | None = None
        if route.authorizer is not None:
            authorizer = self._authorizers.get(route.authorizer)
            if authorizer is None:
                return _gateway_error(500, "Internal server error", self.settings)
            verdict = authorizer.authorize(dict(request.headers.items()))
            if isinstance(verdict, Refused):
                return _gateway_error(verdict.status, verdict.message, self.settings)
            claims = verdict.claims
        if route.api_key_required and request.headers.get("x-api-key") not in self._api_keys:
            return _gateway_error(403, "Forbidden", self.settings)
        body = request.get_data(cache=False)
        if len(body) > MAX_PAYLOAD_BYTES:
            return _gateway_error(413, "Request Too Long", self.settings)
        event = self.proxy_event(request, route, path_parameters, body)
        if claims is not None:
            event["requestContext"]["authorizer"] = {"claims": claims}
        try:
            invocation = self._integration(route.function, event)
        except Throttled:
            return _gateway_error(429, "Too Many Requests", self.settings)
        except (WaitTimedOut, FutureTimeout):
            return _gateway_error(504, "Endpoint request timed out", self.settings)
        if not invocation.ok:
            return _gateway_error(502, "Internal server error", self.settings)
        try:
            return self._proxy_response(invocation.result)
        except (AttributeError, KeyError, TypeError, ValueError):  # e.g. "headers" that is not a mapping
            return _gateway_error(502, "Internal server error", self.settings)

    def _integration(self, function: str, event: dict[str, Any]) -> Any:
        """The function's invocation, or FutureTimeout once API Gateway would have given up on it.

        Like API Gateway, the gateway stops waiting; the invocation itself runs on to its own timeout.
        """
        return self._integrations.submit(self._invoke, function, event).result(timeout=self.integration_timeout_s)

    def _answer_origin_alias(self, request: Request, response: Response) -> None:
        """A CORS answer of the gateway itself (preflight, its own errors) to the page at an alias address."""
        origin = request.headers.get("Origin")
        if origin in self._origin_aliases and "Access-Control-Allow-Origin" in response.headers:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"

    def _is_binary(self, content_type: str, body: bytes) -> bool:
        media_type = content_type.split(";")[0].strip().lower()
        if any(fnmatch.fnmatch(media_type, pattern) for pattern in self.settings.binary_media_types):
            return True
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False

    def proxy_event(self, request: Request, route: Route, path_parameters: Mapping[str, Any], body: bytes) -> dict:
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name, []).append(value)
        # Headers API Gateway adds to every proxied request.
        headers.setdefault("X-Forwarded-For", []).append(request.remote_addr or "127.0.0.1")
        headers["X-Forwarded-Port"] = [str(request.environ.get("SERVER_PORT", "80"))]
        headers["X-Forwarded-Proto"] = [request.scheme]
        query: dict[str, list[str]] = {key: request.args.getlist(key) for key in request.args}
        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        binary = bool(body) and self._is_binary(request.content_type or "", body)
        return {
            "resource": route.resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": {name: values[-1] for name, values in headers.items()} or None,
            "multiValueHeaders": headers or None,
            "queryStringParameters": {key: values[-1] for key, values in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, route.resource).hex[:6],
                "resourcePath": route.resource,
                "httpMethod": request.method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{self.settings.stage}{request.path}",
                "accountId": "123456789012",
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "stage": self.settings.stage,
                "domainPrefix": request.host.split(":")[0].split(".")[0],
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "sourceIp": request.remote_addr or "127.0.0.1",
                    "userAgent": request.headers.get("User-Agent"),
                    "apiKey": request.headers.get("x-api-key") if route.api_key_required else None,
                    "accessKey": None,
                    "accountId": None,
                    "caller": None,
                    "user": None,
                    "userArn": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                },
                "domainName": request.host,
                "apiId": self.settings.api_id,
            },
            "body": (base64.b64encode(body).decode() if binary else body.decode("utf-8")) if body else None,
            "isBase64Encoded": binary,
        }

    @staticmethod
    def _proxy_response(result: Any) -> Response:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            raise ValueError("malformed Lambda proxy response")
        headers = Headers()
        for name, value in (result.get("headers") or {}).items():
            headers[name] = str(value)
        for name, values in (result.get("multiValueHeaders") or {}).items():
            # API Gateway merges both; a name in both keeps every value.
            existing = [] if name not in (result.get("headers") or {}) else headers.getlist(name)
            headers.setlist(name, list(dict.fromkeys([*existing, *(str(value) for value in values)])))
        body = result.get("body") or ""
        payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        if "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        return Response(payload, status=result["statusCode"], headers=headers)


def invoke_with(
    pools: dict[str, FunctionPool], wait_s: float = INTEGRATION_TIMEOUT_S
) -> Callable[[str, dict[str, Any]], Any]:
    """Invokes a function's pool; a request waits at most `wait_s` for a free environment."""
    return lambda function, event: pools[function].invoke(event, wait_s=wait_s)
