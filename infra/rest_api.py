"""The template's REST API as the local gateway and the OpenAPI document read it: its routes (the functions' `Api`
events), stage, CORS, binary media types, gateway responses and Cognito authorizers."""

import uuid
from dataclasses import dataclass, field
from typing import Any

from infra.functions import FunctionSpec
from infra.template import ResolvedTemplate

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's hard limit


@dataclass(frozen=True)
class Route:
    resource: str  # e.g. /predictions/{image_id}
    method: str
    function: str
    api_key_required: bool
    authorizer: str | None = None  # an authorizer of the Api (Auth.Authorizers), e.g. StaffAuthorizer


@dataclass(frozen=True)
class AuthorizerSpec:
    """A `Cognito` authorizer of the template's Api: which user pool (logical id), header and scopes."""

    user_pool: str
    header: str = "Authorization"
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiSettings:
    api_id: str
    stage: str
    cors: dict[str, str]
    binary_media_types: tuple[str, ...]
    # GatewayResponses headers by response type; only DEFAULT_4XX and DEFAULT_5XX are emulated.
    gateway_responses: dict[str, dict[str, str]] = field(default_factory=dict)
    # Cognito authorizers by name; routes name one (Auth.Authorizer) or take DefaultAuthorizer.
    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)
    default_authorizer: str | None = None


def _unquote(value: Any) -> str:
    """SAM's Cors values are quoted header values: "'GET,POST'" -> GET,POST."""
    return str(value).strip("'")


def api_settings(template: ResolvedTemplate, api_logical_id: str) -> ApiSettings:
    properties = template.resolve(template.resources[api_logical_id].get("Properties", {}))
    cors = properties.get("Cors") or {}
    if isinstance(cors, str):
        cors = {"AllowOrigin": cors}
    headers = {
        "Access-Control-Allow-Origin": _unquote(cors.get("AllowOrigin", "")),
        "Access-Control-Allow-Methods": _unquote(cors.get("AllowMethods", "'*'")),
        "Access-Control-Allow-Headers": _unquote(cors.get("AllowHeaders", "'*'")),
    }
    if "MaxAge" in cors:
        headers["Access-Control-Max-Age"] = _unquote(cors["MaxAge"])
    binary = tuple(str(media).replace("~1", "/") for media in properties.get("BinaryMediaTypes", []))
    api_id = uuid.uuid5(uuid.NAMESPACE_DNS, template.physical_name(api_logical_id)).hex[:10]
    gateway_responses = {
        response_type: {
            name: _unquote(value)
            for name, value in ((response.get("ResponseParameters") or {}).get("Headers") or {}).items()
        }
        for response_type, response in (properties.get("GatewayResponses") or {}).items()
    }
    raw_auth = (template.resources[api_logical_id].get("Properties", {}).get("Auth")) or {}
    authorizers = {
        name: _authorizer_spec(name, authorizer) for name, authorizer in (raw_auth.get("Authorizers") or {}).items()
    }
    return ApiSettings(
        api_id,
        str(properties.get("StageName", "Prod")),
        headers if cors else {},
        binary,
        gateway_responses,
        authorizers,
        raw_auth.get("DefaultAuthorizer"),
    )


def _authorizer_spec(name: str, authorizer: dict[str, Any]) -> AuthorizerSpec:
    """A Cognito authorizer's user pool as a logical id: locally the pool's id is known only once provisioned."""
    pool = authorizer.get("UserPoolArn")
    target = pool.get("Fn::GetAtt") if isinstance(pool, dict) else None
    if isinstance(target, str):
        target = target.split(".")
    if not (isinstance(target, list) and len(target) == 2 and target[1] == "Arn"):
        raise ValueError(f"authorizer {name}: only Cognito authorizers (UserPoolArn: !GetAtt <pool>.Arn) run locally")
    header = (authorizer.get("Identity") or {}).get("Header", "Authorization")
    return AuthorizerSpec(str(target[0]), str(header), tuple(authorizer.get("AuthorizationScopes") or ()))


def api_routes(
    specs: dict[str, FunctionSpec], api_logical_id: str, default_authorizer: str | None = None
) -> list[Route]:
    routes = []
    for spec in specs.values():
        for event in spec.events.values():
            if event.get("Type") != "Api":
                continue
            properties = event["Properties"]
            api = properties.get("RestApiId", {})
            if isinstance(api, dict) and api.get("Ref") not in (None, api_logical_id):
                continue
            auth = properties.get("Auth", {})
            required = bool(auth.get("ApiKeyRequired", False))
            authorizer = auth.get("Authorizer", default_authorizer)
            authorizer = None if authorizer in (None, "NONE", "AWS_IAM") else str(authorizer)
            method = properties["Method"].upper()
            routes.append(Route(properties["Path"], method, spec.logical_id, required, authorizer))
    return routes
