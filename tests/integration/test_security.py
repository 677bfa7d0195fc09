"""Hostile and broken input on every route, and what "right" is for each.

The routes come from template.yaml, so a new route is covered (or fails a coverage check) without editing here.

What is right:
- API Gateway's own refusals, `{"message": ...}`, the function never runs: an unknown path or a method the path
  does not have -> 403 "Missing Authentication Token" (REST APIs say that, not 404/405); a body over 10 MB ->
  413 "Request Too Long"; a keyed route without a valid X-Api-Key -> 403 "Forbidden".
- A function's refusal is `{"error": {"code", "message"}}`, 4xx, never 5xx. The one exception is /predict, which
  keeps the original service's body `{"success": false, "prediction": null, "score": null}` and puts the code in
  X-Error-Code.
- Path traversal in a path parameter reaches nothing: either the gateway does not route it (the local host
  decodes %2F into a separator, so the path has extra segments: 403) or the function refuses the id (400
  invalid_image_id; API Gateway passes an encoded slash through as part of the segment). Never 2xx, never 5xx.
- CORS. A preflight is answered by API Gateway's mock integration (SAM `Cors`): always 200 and always the one
  configured origin, whatever Origin says; a disallowed origin gets a header naming another origin and the
  browser refuses. A function's actual response carries Access-Control-Allow-Origin only when Origin is the
  allowed one (Powertools CORSConfig); never `*`, never credentials. Gateway errors carry the allowed origin
  (GatewayResponses) so the web page can read them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from infra.functions import function_specs
from infra.rest_api import Route, api_routes
from infra.template import LocalNames, ResolvedTemplate, load_template
from tests.integration.helpers import (
    HTTP_TIMEOUT_S,
    assert_error,
    assert_gateway_error,
    openapi_document,
    presign_upload,
)

pytestmark = pytest.mark.integration

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
EVIL_ORIGIN = "http://evil.example"
OVER_10_MB = b"x" * (10 * 1024 * 1024 + 1)
JSON = {"Content-Type": "application/json"}
ROUTES: list[Route] = api_routes(function_specs(ResolvedTemplate(load_template(), LocalNames()), {}), "Api")
PATHS = sorted({route.resource for route in ROUTES})
# Routes whose body is JSON: a valid body, and the fields it cannot do without.
JSON_BODIES: dict[tuple[str, str], tuple[dict[str, Any], tuple[str, ...]]] = {
    ("POST", "/uploads"): (
        {"filename": "a.jpg", "content_type": "image/jpeg", "size": 10},
        ("filename", "content_type", "size"),
    ),
    ("POST", "/predictions/{image_id}/feedback"): (
        {"correct_label": "dog", "comment": "c", "inappropriate": False},
        ("correct_label",),
    ),
    ("POST", "/reviews/{image_id}"): (
        {"decision": "allow", "note": "n", "object_version": "v1"},
        ("decision", "object_version"),
    ),
    ("POST", "/reviews/{image_id}/undo"): ({"object_version": "v1"}, ("object_version",)),
}


def staff_headers(stack: Any, route: Route) -> dict[str, str]:
    """A signed-in member of the group the staff route needs (the export: analysts; the rest: moderators)."""
    return stack.staff("analysts" if route.resource == "/feedback.csv" else "moderators").headers


def route_id(route: Route) -> str:
    return f"{route.method} {route.resource}"


def url(stack: Any, resource: str, image_id: str = UNKNOWN_ID) -> str:
    return stack.api_url + resource.replace("{image_id}", image_id)


def call(stack: Any, route: Route, image_id: str = UNKNOWN_ID, **kwargs: Any) -> requests.Response:
    headers = {
        **({"X-Api-Key": stack.api_key} if route.api_key_required else {}),
        **(staff_headers(stack, route) if route.authorizer else {}),
        **kwargs.pop("headers", {}),
    }
    return requests.request(
        route.method, url(stack, route.resource, image_id), headers=headers, timeout=40, allow_redirects=False, **kwargs
    )


# ---------------------------------------------------------------------------- the route table is complete
def test_every_json_body_route_of_the_document_has_bodies_here(local_stack):
    document = openapi_document(local_stack)
    json_routes = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "application/json" in (operation.get("requestBody") or {}).get("content", {})
    }

    assert json_routes == set(JSON_BODIES)


# ---------------------------------------------------------------------------- oversized bodies
@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_a_body_over_10_mb_is_413_from_the_gateway(local_stack, route: Route):
    reply = call(local_stack, route, data=OVER_10_MB, headers={"Content-Type": "application/octet-stream"})

    assert_gateway_error(reply, 413, "Request Too Long")
    assert reply.headers["Access-Control-Allow-Origin"] == local_stack.web_origin


# ------------------------------------------------------------------ malformed JSON, wrong types, missing fields
MALFORMED_JSON = {
    "truncated": b'{"a": ',
    "not JSON": b"a=1&b=2",
    "trailing comma": b'{"a": 1,}',
    "single quotes": b"{'a': 1}",
    "not UTF-8": b'{"a": "\xff\xfe"}',
    "empty": b"",
    "null": b"null",
    "array": b'[{"a": 1}]',
    "string": b'"text"',
    "number": b"42",
    "deeply nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "deeply nested objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "NaN": b'{"size": NaN}',
}


@pytest.mark.parametrize("raw", MALFORMED_JSON.values(), ids=MALFORMED_JSON.keys())
@pytest.mark.parametrize("method, resource", JSON_BODIES, ids=[f"{m} {p}" for m, p in JSON_BODIES])
def test_malformed_json_is_400(local_stack, method: str, resource: str, raw: bytes):
    route = next(route for route in ROUTES if (route.method, route.resource) == (method, resource))

    reply = call(local_stack, route, data=raw, headers=JSON)

    assert_error(reply, 400, "invalid_request")


def wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return 123
    return "x"


def body_variants() -> list[tuple[str, str, str, dict[str, Any]]]:
    variants = []
    for (method, resource), (valid, required) in JSON_BODIES.items():
        for name, value in valid.items():
            variants.append((method, resource, f"{name} of the wrong type", {**valid, name: wrong_type(value)}))
            variants.append((method, resource, f"{name} null", {**valid, name: None}))
        for name in required:
            variants.append((method, resource, f"{name} missing", {k: v for k, v in valid.items() if k != name}))
        variants.append((method, resource, "an unknown field", {**valid, "admin": True}))
        variants.append((method, resource, "an empty object", {}))
    return variants


@pytest.mark.parametrize(
    "method, resource, body",
    [v[:2] + v[3:] for v in body_variants()],
    ids=[f"{v[0]} {v[1]}: {v[2]}" for v in body_variants()],
)
def test_wrong_types_and_missing_fields_are_400(local_stack, method: str, resource: str, body: dict[str, Any]):
    route = next(route for route in ROUTES if (route.method, route.resource) == (method, resource))

    reply = call(local_stack, route, json=body)

    assert_error(reply, 400, "invalid_request")


# ------------------------------------------------------------------ unknown ids, traversal, control characters
ID_ROUTES = [route for route in ROUTES if "{image_id}" in route.resource]


@pytest.mark.parametrize("route", ID_ROUTES, ids=route_id)
def test_an_unknown_image_id_is_404(local_stack, route: Route):
    valid = JSON_BODIES.get((route.method, route.resource), (None,))[0]

    reply = call(local_stack, route, json=valid)

    assert_error(reply, 404, "image_not_found")


def test_an_unknown_drop_folder_key_is_404(local_stack):
    reply = requests.get(f"{local_stack.api_url}/predictions", params={"key": "incoming/never.jpg"}, timeout=15)

    assert_error(reply, 404, "image_not_found")


TRAVERSALS = {
    "encoded slashes": "..%2F..%2Fetc",
    "encoded dots and slashes": "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "encoded dot-dot": "%2e%2e",
    "double-encoded": "%252e%252e%252fetc",
    "backslashes": "..%5C..%5Cwindows",
    "doubled slashes": "....%2F%2F",
}


@pytest.mark.parametrize("raw_id", TRAVERSALS.values(), ids=TRAVERSALS.keys())
@pytest.mark.parametrize("route", ID_ROUTES, ids=route_id)
def test_path_traversal_in_a_path_parameter_reaches_nothing(local_stack, route: Route, raw_id: str):
    valid = JSON_BODIES.get((route.method, route.resource), (None,))[0]

    reply = call(local_stack, route, image_id=raw_id, json=valid)

    assert_not_routed_or_refused(reply)


@pytest.mark.parametrize(
    "raw_id", ["%00", "a%0Ab", "%1b%5B31m", "%7F", "%E2%80%AE"], ids=["NUL", "LF", "ESC", "DEL", "RLO"]
)
@pytest.mark.parametrize("route", ID_ROUTES, ids=route_id)
def test_control_characters_in_a_path_parameter_are_refused(local_stack, route: Route, raw_id: str):
    valid = JSON_BODIES.get((route.method, route.resource), (None,))[0]

    reply = call(local_stack, route, image_id=raw_id, json=valid)

    assert_not_routed_or_refused(reply)


def assert_not_routed_or_refused(reply: requests.Response) -> None:
    """403 from the gateway (not routed), or the function's 400 invalid_image_id / 404 route_not_found."""
    assert reply.status_code in (400, 403, 404), f"{reply.status_code}: {reply.text[:300]}"
    body = reply.json()
    if reply.status_code == 403:
        assert body == {"message": "Missing Authentication Token"}
    else:
        # Powertools' router refuses a segment with control characters before the handler runs.
        assert_error(reply, reply.status_code, "invalid_image_id" if reply.status_code == 400 else "route_not_found")


@pytest.mark.parametrize(
    "key",
    ["incoming/../../etc/passwd", "incoming/..%2F..%2Fsecret", "incoming/%00.jpg"],
    ids=["dot-dot", "encoded", "encoded NUL"],
)
def test_a_drop_folder_key_is_a_lookup_not_a_path(local_stack, key: str):
    reply = requests.get(f"{local_stack.api_url}/predictions", params={"key": key}, timeout=HTTP_TIMEOUT_S)

    assert_error(reply, 404, "image_not_found")


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "/etc/passwd", "incoming/\x00.jpg", "incoming/a\r\nSet-Cookie: x=1"],
    ids=["dot-dot", "absolute", "NUL", "CRLF header injection"],
)
def test_keys_outside_the_drop_folder_or_with_control_characters_are_400(local_stack, key: str):
    reply = requests.get(f"{local_stack.api_url}/predictions", params={"key": key}, timeout=HTTP_TIMEOUT_S)

    assert_error(reply, 400, "invalid_key")


CONTROL_CHARACTERS = {"NUL": "\x00", "LF": "\n", "CR LF": "\r\n", "TAB": "\t", "ESC": "\x1b[31m", "DEL": "\x7f"}


@pytest.mark.parametrize("char", CONTROL_CHARACTERS.values(), ids=CONTROL_CHARACTERS.keys())
def test_control_characters_in_a_filename_are_400(local_stack, char: str):
    reply = requests.post(
        f"{local_stack.api_url}/uploads",
        json={"filename": f"photo{char}name.jpg", "content_type": "image/jpeg", "size": 10},
        timeout=HTTP_TIMEOUT_S,
    )

    assert_error(reply, 400, "invalid_request")


@pytest.mark.parametrize("char", CONTROL_CHARACTERS.values(), ids=CONTROL_CHARACTERS.keys())
def test_control_characters_in_a_feedback_label_are_400(local_stack, char: str):
    image_id = presign_upload(local_stack, "label-target.jpg", "image/jpeg", 10)["image_id"]

    reply = requests.post(
        f"{local_stack.api_url}/predictions/{image_id}/feedback",
        json={"correct_label": f"dog{char}cat"},
        timeout=HTTP_TIMEOUT_S,
    )

    assert_error(reply, 400, "invalid_request")


@pytest.mark.parametrize(
    "filename",
    ["Фото 📷.jpg", "写真.jpeg", "café – été.JPG", "photo\u202egpj.exe", "zero\u200bwidth.jpg", "a" * 250 + ".jpg"],
    ids=["cyrillic and emoji", "CJK", "accents", "right-to-left override", "zero-width space", "255 characters"],
)
def test_non_ascii_filenames_are_kept_as_metadata_and_never_become_the_key(local_stack, filename: str):
    created = presign_upload(local_stack, filename, "image/jpeg", 10)

    assert created["upload"]["fields"]["key"] == f"uploads/{created['image_id']}.jpg"
    item = local_stack.table("PredictionsTable").get_item(Key={"image_id": created["image_id"]})["Item"]
    assert item["original_filename"] == filename


# ---------------------------------------------------------------------------- wrong methods, unknown paths
WRONG_METHODS = [
    (method, path)
    for path in PATHS
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
    if (method, path) not in {(route.method, route.resource) for route in ROUTES}
]


@pytest.mark.parametrize("method, path", WRONG_METHODS, ids=[f"{m} {p}" for m, p in WRONG_METHODS])
def test_a_method_the_path_does_not_have_is_missing_authentication_token(local_stack, method: str, path: str):
    reply = requests.request(method, url(local_stack, path), json={}, timeout=HTTP_TIMEOUT_S)

    assert reply.status_code == 403
    if method != "HEAD":
        assert_gateway_error(reply, 403, "Missing Authentication Token")


@pytest.mark.parametrize("path", ["/", "/admin", "/predictions/x/y/z", "/uploads/%2e%2e/feedback.csv", "/.env"])
def test_an_unknown_path_is_missing_authentication_token(local_stack, path: str):
    reply = requests.get(local_stack.api_url + path, timeout=HTTP_TIMEOUT_S)

    assert_gateway_error(reply, 403, "Missing Authentication Token")


# ---------------------------------------------------------------------------- API keys
KEYED = [route for route in ROUTES if route.api_key_required]


@pytest.mark.parametrize("route", KEYED, ids=route_id)
@pytest.mark.parametrize(
    "headers, params",
    [({}, {}), ({"X-Api-Key": ""}, {}), ({"X-Api-Key": "wrong"}, {}), ({}, {"api_key": "{key}"})],
    ids=["no key", "empty key", "wrong key", "key in the query string"],
)
def test_a_keyed_route_without_a_valid_key_header_is_403_forbidden(local_stack, route, headers, params):
    params = {name: value.format(key=local_stack.api_key) for name, value in params.items()}

    reply = requests.request(route.method, url(local_stack, route.resource), headers=headers, params=params, timeout=15)

    assert_gateway_error(reply, 403, "Forbidden")
    assert reply.headers["Access-Control-Allow-Origin"] == local_stack.web_origin


@pytest.mark.parametrize("route", KEYED, ids=route_id)
def test_a_keyed_route_with_the_key_reaches_the_function(local_stack, route: Route):
    valid = JSON_BODIES.get((route.method, route.resource), (None,))[0]

    reply = call(local_stack, route, json=valid)

    # The function answered, not the gateway: a list, no such image, or DetectModerationLabels' own refusal of a
    # request that names no operation (Rekognition's JSON 1.1 error shape).
    assert reply.status_code in (200, 400, 404) and reply.json() != {"message": "Forbidden"}, reply.text
    if reply.status_code == 400:
        assert reply.json()["__type"] == "InvalidParameterException", reply.text


STAFF = [route for route in ROUTES if route.authorizer]


def test_the_moderator_and_analyst_routes_need_a_staff_token_and_no_route_both():
    assert {"GET /feedback.csv", "GET /reviews", "POST /reviews/{image_id}"} <= {route_id(route) for route in STAFF}
    assert not {route_id(route) for route in STAFF} & {route_id(route) for route in KEYED}


@pytest.mark.parametrize("route", STAFF, ids=route_id)
def test_a_staff_route_without_a_token_is_401_with_the_pages_cors_header(local_stack, route):
    reply = requests.request(route.method, url(local_stack, route.resource), timeout=15)

    assert_gateway_error(reply, 401, "Unauthorized")
    assert reply.headers["Access-Control-Allow-Origin"] == local_stack.web_origin


@pytest.mark.parametrize("route", STAFF, ids=route_id)
def test_a_staff_route_with_its_groups_token_reaches_the_function(local_stack, route: Route):
    valid = JSON_BODIES.get((route.method, route.resource), (None,))[0]

    reply = call(local_stack, route, json=valid)

    assert reply.status_code in (200, 404), reply.text


# ---------------------------------------------------------------------------- CORS
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("origin", ["allowed", EVIL_ORIGIN, "null"])
def test_a_preflight_always_names_the_one_allowed_origin(local_stack, path: str, origin: str):
    origin = local_stack.web_origin if origin == "allowed" else origin
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-api-key",
    }

    reply = requests.options(url(local_stack, path), headers=headers, timeout=HTTP_TIMEOUT_S)

    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == local_stack.web_origin
    assert {"GET", "POST", "OPTIONS"} == set(reply.headers["Access-Control-Allow-Methods"].split(","))
    assert {"content-type", "x-api-key"} <= {
        h.strip().lower() for h in reply.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert "Access-Control-Allow-Credentials" not in reply.headers
    assert reply.content == b""


def function_reply(stack: Any, route: Route, origin: str) -> requests.Response:
    """A reply the function itself gives: a request it refuses (or answers) without side effects."""
    valid = JSON_BODIES.get((route.method, route.resource), (None,))[0]
    return call(stack, route, json=valid, headers={"Origin": origin})


# The pages' routes: a machine client's keyed route (DetectModerationLabels) is called by SDKs, never by a page,
# so it grants no origin at all (the next test checks that it grants no other origin either).
PAGE_ROUTES = [route for route in ROUTES if not route.api_key_required]


@pytest.mark.parametrize("route", PAGE_ROUTES, ids=route_id)
def test_a_function_reply_allows_the_web_origin(local_stack, route: Route):
    reply = function_reply(local_stack, route, local_stack.web_origin)

    assert reply.status_code < 500, reply.text
    assert reply.headers.get("Access-Control-Allow-Origin") == local_stack.web_origin
    assert "Access-Control-Allow-Credentials" not in reply.headers


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
@pytest.mark.parametrize("origin", [EVIL_ORIGIN, "null", "http://localhost:8001.evil.example"])
def test_a_function_reply_to_another_origin_has_no_cors_headers(local_stack, route: Route, origin: str):
    reply = function_reply(local_stack, route, origin)

    assert reply.status_code < 500, reply.text
    assert "Access-Control-Allow-Origin" not in reply.headers, reply.headers
    assert "Access-Control-Allow-Credentials" not in reply.headers


def test_a_gateway_error_names_the_allowed_origin_not_the_callers(local_stack):
    reply = requests.get(f"{local_stack.api_url}/nope", headers={"Origin": EVIL_ORIGIN}, timeout=HTTP_TIMEOUT_S)

    assert_gateway_error(reply, 403, "Missing Authentication Token")
    assert reply.headers["Access-Control-Allow-Origin"] == local_stack.web_origin


# ---------------------------------------------------------------------------- error bodies never leak internals
def test_error_messages_do_not_echo_stack_traces_or_internal_names(local_stack):
    replies = [
        requests.post(f"{local_stack.api_url}/uploads", data=b"[" * 100_000, headers=JSON, timeout=HTTP_TIMEOUT_S),
        requests.post(f"{local_stack.api_url}/uploads", json={"filename": 1}, timeout=HTTP_TIMEOUT_S),
    ]
    for reply in replies:
        text = json.dumps(reply.json())
        assert reply.status_code == 400
        for leak in ("Traceback", 'File \\"', "photomod-local", "arn:aws", "botocore", "pydantic.dev"):
            assert leak not in text, text
