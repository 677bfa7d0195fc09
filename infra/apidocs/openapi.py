"""One OpenAPI 3.1 document for the whole REST API, generated from the functions' own Powertools resolvers.

Each API function already describes its routes (parameters, request and response models) through its
`APIGatewayRestResolver(enable_validation=True)`. This module imports every function of template.yaml that has
an `Api` event (with the environment the template gives it, so its settings load), merges their paths and
components, and adds what only API Gateway and the shared resolver know:

- the API-key security scheme on routes whose event says `Auth: ApiKeyRequired: true` (and their 403);
- the CORS preflight (OPTIONS) API Gateway answers itself for every path;
- the gateway's own errors, `{"message": ...}`: 413 (body over 10 MB), 429 (throttled), 502, 504;
- the function errors every route may answer, `{"error": {"code", "message"}}`: 400 and 500 (the 422 Powertools
  documents never happens: `photomod_shared.api` answers validation errors with 400).

A template route no function serves, or a function route the template does not route, is an error.

    python -m infra.apidocs.openapi                          # print the document
    python -m infra.apidocs.openapi -o docs/openapi.json     # what `make openapi` runs
"""

import argparse
import copy
import importlib
import json
import os
import re
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from infra.functions import FunctionSpec, function_specs
from infra.paths import REPO_ROOT
from infra.rest_api import MAX_PAYLOAD_BYTES, Route, api_routes, api_settings
from infra.template import LocalNames, ResolvedTemplate, load_template

TITLE = "photomod API"
API_LOGICAL_ID = "Api"
API_KEY_SCHEME = "ApiKey"
COMPONENT_PREFIX = "#/components/schemas/"
# Powertools documents request validation as 422 with these schemas; the shared resolver answers 400 instead.
POWERTOOLS_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
GATEWAY_ERROR = "GatewayError"
FUNCTION_ERROR = "ErrorBody"
# Sent to nowhere: importing a handler must not reach AWS (clients are built lazily, but be sure).
IMPORT_ENVIRONMENT = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "openapi",
    "AWS_SECRET_ACCESS_KEY": "openapi",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


class OpenApiMismatch(ValueError):
    """The template and the functions' resolvers disagree about the routes."""


def api_version() -> str:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


# ---------------------------------------------------------------------------- the functions' own documents
@contextmanager
def _function_environment(spec: FunctionSpec) -> Iterator[None]:
    """The function's environment variables and code paths, for as long as its module is being imported."""
    saved_environment, saved_path = dict(os.environ), list(sys.path)
    os.environ.update({**spec.environment, **IMPORT_ENVIRONMENT})
    sys.path[:0] = [path for path in spec.code_paths if path not in sys.path]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
        sys.path[:] = saved_path


def resolver_document(spec: FunctionSpec) -> dict[str, Any]:
    """What the function's resolver says about its routes (a handler module `pkg.app` with `app` in it)."""
    module_name = spec.handler.rsplit(".", 1)[0]
    with _function_environment(spec):
        module = importlib.import_module(module_name)
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_openapi_json_schema"):
        raise OpenApiMismatch(f"{spec.logical_id}: {module_name} has no Powertools resolver named `app`")
    return json.loads(app.get_openapi_json_schema(title=TITLE, version=api_version()))


# ---------------------------------------------------------------------------- what only the gateway knows
def _gateway_error(description: str, message: str) -> dict[str, Any]:
    return {
        "description": f"{description} (API Gateway's own error; the function is not called)",
        "content": {
            "application/json": {"schema": {"$ref": COMPONENT_PREFIX + GATEWAY_ERROR}, "example": {"message": message}}
        },
    }


def _function_error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": COMPONENT_PREFIX + FUNCTION_ERROR}}},
    }


GATEWAY_RESPONSES = {
    "413": _gateway_error(f"The request body is over {MAX_PAYLOAD_BYTES // 2**20} MB", "Request Too Long"),
    "429": _gateway_error("Throttled: over the stage's rate or burst limit", "Too Many Requests"),
    "502": _gateway_error("The function failed or answered malformed", "Internal server error"),
    "504": _gateway_error("The function did not answer within API Gateway's 29 s", "Endpoint request timed out"),
}
API_KEY_MISSING = _gateway_error("No API key, or one that is not in a usage plan of this stage", "Forbidden")
TOKEN_REFUSED = _gateway_error(
    "No staff ID token, or one that is forged, expired or of another user pool or app client "
    "(expired: 'The incoming token has expired')",
    "Unauthorized",
)


def _schema_components(spec: FunctionSpec) -> dict[str, Any]:
    """The gateway's error body, and the functions' (the model of photomod_shared, in the function's layer)."""
    with _function_environment(spec):
        error_body = importlib.import_module("photomod_shared.api").ErrorBody
    function_error = error_body.model_json_schema(ref_template=COMPONENT_PREFIX + "{model}")
    schemas = function_error.pop("$defs", {})
    schemas[FUNCTION_ERROR] = function_error
    schemas[GATEWAY_ERROR] = {
        "title": GATEWAY_ERROR,
        "description": "The body of an error API Gateway answers itself",
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
        "additionalProperties": False,
    }
    return schemas


def _preflight(path: str, cors: dict[str, str]) -> dict[str, Any]:
    return {
        "summary": f"CORS preflight for {path}",
        "description": "Answered by API Gateway (mock integration), never by a function, and without an API key. "
        "It always names the one allowed origin: a browser on another origin sees a mismatch and refuses.",
        "operationId": "preflight_" + "".join(char if char.isalnum() else "_" for char in path).strip("_"),
        "tags": ["CORS"],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{(\w+)\+?\}", path)
        ],
        "responses": {
            "200": {
                "description": "The CORS policy; no body",
                "headers": {name: {"schema": {"type": "string", "example": value}} for name, value in cors.items()},
            }
        },
    }


# ---------------------------------------------------------------------------- merging
def _tag(logical_id: str) -> str:
    return logical_id.removesuffix("Function")


def _function_description(template: ResolvedTemplate, logical_id: str) -> str:
    return str(template.resources[logical_id]["Properties"].get("Description", ""))


def _merge_schemas(into: dict[str, Any], schemas: dict[str, Any], origin: str) -> None:
    for name, schema in schemas.items():
        if name in into and into[name] != schema:
            raise OpenApiMismatch(f"{origin}: schema {name!r} differs from another function's; rename one model")
        into[name] = schema


def _referenced(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENT_PREFIX):
            yield ref.removeprefix(COMPONENT_PREFIX)
        for item in value.values():
            yield from _referenced(item)
    elif isinstance(value, list):
        for item in value:
            yield from _referenced(item)


def _drop_unreferenced(document: dict[str, Any]) -> None:
    """Only the schemas the paths reach, transitively (Powertools' 422 schemas are gone with their responses)."""
    schemas = document["components"]["schemas"]
    reachable, pending = set(), list(_referenced(document["paths"]))
    while pending:
        name = pending.pop()
        if name not in reachable and name in schemas:
            reachable.add(name)
            pending.extend(_referenced(schemas[name]))
    document["components"]["schemas"] = {name: schemas[name] for name in sorted(schemas) if name in reachable}


def _complete_operation(operation: dict[str, Any], route: Route, tag: str) -> None:
    responses = operation["responses"]
    responses.pop("422", None)
    if operation.get("parameters") or operation.get("requestBody"):
        responses.setdefault("400", _function_error("The request is invalid (parameters or body)"))
    responses.setdefault("500", _function_error("The function failed unexpectedly"))
    gateway = dict(GATEWAY_RESPONSES)
    if route.api_key_required:
        operation["security"] = [{API_KEY_SCHEME: []}]
        gateway["403"] = API_KEY_MISSING
    if route.authorizer:
        operation.setdefault("security", []).append({route.authorizer: []})
        gateway["401"] = TOKEN_REFUSED
    for status, response in gateway.items():
        _add_gateway_response(responses, status, response)
    operation["responses"] = dict(sorted(responses.items()))
    operation.setdefault("tags", [tag])


def _add_gateway_response(responses: dict[str, Any], status: str, gateway: dict[str, Any]) -> None:
    """The gateway's error, or either body where the function answers the same status itself."""
    own = responses.get(status)
    if own is None:
        responses[status] = copy.deepcopy(gateway)
        return
    own_json = (own.get("content") or {}).get("application/json", {}).get("schema")
    gateway_json = gateway["content"]["application/json"]["schema"]
    own["description"] = f"{own['description']}; or {gateway['description'][0].lower()}{gateway['description'][1:]}"
    own.setdefault("content", {})["application/json"] = {
        "schema": {"anyOf": [own_json, gateway_json]} if own_json else gateway_json
    }


def build_document(template: ResolvedTemplate | None = None, servers: list[dict[str, Any]] | None = None) -> dict:
    """The whole API's OpenAPI document. `servers` defaults to the deployed stage URL."""
    template = template or ResolvedTemplate(load_template(), LocalNames())
    specs = function_specs(template, {})
    settings = api_settings(template, API_LOGICAL_ID)
    routes = api_routes(specs, API_LOGICAL_ID)
    routed = {(route.resource, route.method.lower()): route for route in routes}

    functions = list(dict.fromkeys(route.function for route in routes))  # template order
    paths: dict[str, dict[str, Any]] = {}
    schemas = _schema_components(specs[functions[0]])
    problems = []
    for logical_id in functions:
        own = resolver_document(specs[logical_id])
        _merge_schemas(schemas, (own.get("components") or {}).get("schemas", {}), logical_id)
        for path, operations in own.get("paths", {}).items():
            for method, operation in operations.items():
                route = routed.get((path, method))
                if route is None or route.function != logical_id:
                    problems.append(f"{logical_id} serves {method.upper()} {path}, which the template does not route")
                    continue
                _complete_operation(operation, route, _tag(logical_id))
                paths.setdefault(path, {})[method] = operation
    problems += [
        f"{route.function}'s resolver has no {route.method} {route.resource}, which the template routes to it"
        for route in routes
        if route.method.lower() not in paths.get(route.resource, {})
    ]
    if problems:
        raise OpenApiMismatch("; ".join(problems))
    if settings.cors:
        for path, operations in paths.items():
            operations["options"] = _preflight(path, settings.cors)

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": api_version(),
            "description": template.template.get("Description", "").strip(),
        },
        "servers": servers
        or [
            {
                "url": "https://{restApiId}.execute-api.{region}.amazonaws.com/" + settings.stage,
                "description": "The deployed stage (see the stack output ApiUrl)",
                "variables": {"restApiId": {"default": "restApiId"}, "region": {"default": "us-east-1"}},
            }
        ],
        "tags": [
            *({"name": _tag(name), "description": _function_description(template, name)} for name in functions),
            {"name": "CORS", "description": "Preflights API Gateway answers itself (SAM Cors)"},
        ],
        "paths": {path: dict(sorted(paths[path].items())) for path in sorted(paths)},
        "components": {"schemas": schemas},
    }
    schemes: dict[str, Any] = {}
    if any(route.api_key_required for route in routes):
        schemes[API_KEY_SCHEME] = {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "An API key of the stage's usage plan; API Gateway checks it before the function runs",
        }
    for authorizer in sorted({route.authorizer for route in routes if route.authorizer}):
        schemes[authorizer] = {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "A staff member's Cognito ID token (raw, no 'Bearer '), from InitiateAuth USER_PASSWORD_AUTH; "
                "API Gateway verifies it (401), the function checks the group the route needs (403)"
            ),
        }
    if schemes:
        document["components"]["securitySchemes"] = schemes
    _drop_unreferenced(document)
    return document


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.apidocs.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", help="write the document here instead of printing it")
    parser.add_argument("--server-url", help="the one server the document names (default: the deployed stage)")
    options = parser.parse_args(argv)
    servers = [{"url": options.server_url, "description": "this local stack"}] if options.server_url else None
    text = json.dumps(build_document(servers=servers), indent=2, ensure_ascii=False) + "\n"
    if options.output:
        with open(options.output, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"wrote {options.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
