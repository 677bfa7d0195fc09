"""infra.local.apigateway.RestApi: the local API Gateway (REST API, Lambda proxy integration), driven over WSGI."""

import base64
import json
import threading
import uuid
from typing import Any

import pytest
from werkzeug.test import Client

from infra.functions import function_specs
from infra.local.apigateway import RestApi
from infra.local.invoker import Invocation
from infra.rest_api import MAX_PAYLOAD_BYTES, ApiSettings, Route, api_routes, api_settings
from infra.template import LocalNames, ResolvedTemplate, load_template

WEB_ORIGIN = "http://localhost:8000"
IMAGE_ID = "9f2c1e4b7a6d4c3e8b1a0f9e8d7c6b5a"
OK = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}


class FakeFunctions:
    """Stands in for the function pools: records each invocation and answers with `reply`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.reply = Invocation(ok=True, result=OK)

    def __call__(self, function: str, event: dict[str, Any]) -> Invocation:
        self.calls.append((function, event))
        return self.reply

    @property
    def event(self) -> dict[str, Any]:
        (_, event), *_ = self.calls
        return event


@pytest.fixture(scope="module")
def template() -> ResolvedTemplate:
    return ResolvedTemplate(load_template(), LocalNames())


@pytest.fixture
def functions() -> FakeFunctions:
    return FakeFunctions()


@pytest.fixture
def client(template, functions) -> Client:
    routes = api_routes(function_specs(template, {}), "Api")
    return Client(RestApi(api_settings(template, "Api"), routes, functions, access_log=lambda line: None))


def custom_client(functions: FakeFunctions, routes: list[Route], **settings: Any) -> Client:
    defaults = {"api_id": "abc1234567", "stage": "v1", "cors": {}, "binary_media_types": ()}
    api = RestApi(
        ApiSettings(**{**defaults, **settings}), routes, functions, api_keys=["k3y"], access_log=lambda line: None
    )
    return Client(api)


# --- routes and settings from the template ---------------------------------------------------------


def test_routes_and_stage_come_from_the_templates_api_events(template):
    routes = {
        (route.method, route.resource): route.function for route in api_routes(function_specs(template, {}), "Api")
    }

    assert routes == {
        ("POST", "/uploads"): "UploadFunction",
        ("GET", "/predictions/{image_id}"): "UploadFunction",
        ("GET", "/predictions"): "UploadFunction",
        ("POST", "/predictions/{image_id}/feedback"): "FeedbackFunction",
        ("GET", "/feedback.csv"): "FeedbackFunction",
        ("POST", "/predict"): "PredictFunction",
        ("GET", "/predict"): "PredictFunction",
        ("GET", "/images/{image_id}"): "UploadFunction",
        ("GET", "/reviews"): "ReviewsFunction",
        ("POST", "/reviews/{image_id}"): "ReviewsFunction",
        ("POST", "/rekognition"): "RekognitionFunction",
        ("GET", "/reviews/{image_id}/history"): "ReviewsFunction",
        ("POST", "/reviews/{image_id}/undo"): "ReviewsFunction",
        ("GET", "/bank/{image_id}"): "ReviewsFunction",
        ("DELETE", "/bank/{image_id}"): "ReviewsFunction",
    }
    assert api_settings(template, "Api").stage == "v1"


# --- the proxy event -------------------------------------------------------------------------------


def test_the_event_has_the_fields_and_shape_api_gateway_sends(client, functions, load_event):
    client.get(f"/predictions/{IMAGE_ID}", headers={"Origin": WEB_ORIGIN, "User-Agent": "pytest"})

    function, event = functions.calls[0]
    fixture = load_event("get_prediction")
    assert function == "UploadFunction"
    assert set(event) == set(fixture)
    assert set(event["requestContext"]) == set(fixture["requestContext"])
    assert set(event["requestContext"]["identity"]) == set(fixture["requestContext"]["identity"])
    assert event["resource"] == "/predictions/{image_id}"
    assert event["path"] == f"/predictions/{IMAGE_ID}"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"image_id": IMAGE_ID}
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "v1"
    assert context["path"] == f"/v1/predictions/{IMAGE_ID}"
    assert context["resourcePath"] == "/predictions/{image_id}" and context["httpMethod"] == "GET"
    assert uuid.UUID(context["requestId"])
    assert context["identity"]["userAgent"] == "pytest" and context["identity"]["sourceIp"] == "127.0.0.1"


def test_every_request_gets_its_own_request_id(client, functions):
    client.get(f"/predictions/{IMAGE_ID}")
    client.get(f"/predictions/{IMAGE_ID}")

    first, second = (event["requestContext"]["requestId"] for _, event in functions.calls)
    assert first != second


def test_query_parameters_are_decoded_and_keep_every_value(client, functions):
    client.get("/predictions?key=incoming%2Fsummer%20sale%2Fa.jpg&key=incoming%2Fb.jpg&page=2")

    event = functions.event
    assert event["resource"] == "/predictions" and event["pathParameters"] is None
    # queryStringParameters holds the last value of a repeated name, as API Gateway does.
    assert event["queryStringParameters"] == {"key": "incoming/b.jpg", "page": "2"}
    assert event["multiValueQueryStringParameters"] == {
        "key": ["incoming/summer sale/a.jpg", "incoming/b.jpg"],
        "page": ["2"],
    }


def test_headers_come_as_single_and_multi_value_maps_with_the_forwarding_headers(client, functions):
    client.get(f"/predictions/{IMAGE_ID}", headers={"Origin": WEB_ORIGIN, "Accept": "application/json"})

    event = functions.event
    assert event["headers"]["Origin"] == WEB_ORIGIN
    assert event["multiValueHeaders"]["Origin"] == [WEB_ORIGIN]
    assert event["multiValueHeaders"]["Accept"] == ["application/json"]
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["multiValueHeaders"]["X-Forwarded-For"] == ["127.0.0.1"]
    assert event["headers"]["X-Forwarded-Port"] == event["multiValueHeaders"]["X-Forwarded-Port"][0]


def test_a_json_body_is_passed_as_text(client, functions):
    body = {"filename": "shoe.jpg", "content_type": "image/jpeg", "size": 10}

    client.post("/uploads", json=body)

    event = functions.event
    assert (event["httpMethod"], event["resource"], event["isBase64Encoded"]) == ("POST", "/uploads", False)
    assert json.loads(event["body"]) == body
    assert event["headers"]["Content-Type"] == "application/json"


def test_a_body_that_is_not_utf8_is_base64_encoded(client, functions):
    payload = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"

    client.post("/uploads", data=payload, content_type="application/octet-stream")

    assert functions.event["isBase64Encoded"] is True
    assert base64.b64decode(functions.event["body"]) == payload


def test_bodies_of_binary_media_types_are_base64_encoded(functions):
    client = custom_client(functions, [Route("/photos", "POST", "Photos", False)], binary_media_types=("image/*",))

    client.post("/photos", data=b"plain ascii", content_type="image/png")

    assert functions.event["isBase64Encoded"] is True
    assert base64.b64decode(functions.event["body"]) == b"plain ascii"


def test_an_api_key_route_refuses_requests_without_the_key(functions):
    client = custom_client(functions, [Route("/admin", "GET", "Admin", True)])

    refused = client.get("/admin")
    accepted = client.get("/admin", headers={"X-Api-Key": "k3y"})

    assert (refused.status_code, refused.get_json()) == (403, {"message": "Forbidden"})
    assert accepted.status_code == 200
    assert [event["requestContext"]["identity"]["apiKey"] for _, event in functions.calls] == ["k3y"]


# --- the proxy response ----------------------------------------------------------------------------


def test_headers_and_multi_value_headers_are_merged(client, functions):
    functions.reply = Invocation(
        ok=True,
        result={
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Single": "a", "X-Same": "same"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-Single": ["b"], "X-Same": ["same"]},
            "body": '{"ok": true}',
        },
    )

    response = client.post("/uploads", json={})

    assert response.status_code == 201
    assert response.get_json() == {"ok": True}
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers.getlist("X-Single") == ["a", "b"]  # a name in both keeps every value
    assert response.headers.getlist("X-Same") == ["same"]  # a pair in both appears once


def test_a_base64_response_body_is_decoded(client, functions):
    png = b"\x89PNG\r\n\x1a\n\x00\x00"
    functions.reply = Invocation(
        ok=True,
        result={
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(png).decode(),
            "isBase64Encoded": True,
        },
    )

    response = client.get(f"/predictions/{IMAGE_ID}")

    assert response.data == png and response.headers["Content-Type"] == "image/png"


def test_a_response_without_content_type_defaults_to_json(client, functions):
    functions.reply = Invocation(ok=True, result={"statusCode": 204})

    response = client.get(f"/predictions/{IMAGE_ID}")

    assert response.status_code == 204 and response.headers["Content-Type"] == "application/json"


# --- API Gateway's own answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nowhere"),
        ("GET", "/uploads"),
        ("DELETE", "/uploads"),
        ("PUT", f"/predictions/{IMAGE_ID}"),
        ("GET", "/v1/uploads"),
    ],
)
def test_an_unknown_route_or_method_is_403_missing_authentication_token(client, functions, method, path):
    response = client.open(path, method=method)

    assert response.status_code == 403
    assert response.get_json() == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert functions.calls == []


@pytest.mark.parametrize(
    "path", ["/uploads", f"/predictions/{IMAGE_ID}", f"/predictions/{IMAGE_ID}/feedback", "/predictions"]
)
def test_options_preflight_is_answered_from_the_templates_cors(client, functions, path):
    response = client.options(path, headers={"Origin": WEB_ORIGIN, "Access-Control-Request-Method": "POST"})

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type,X-Api-Key,Authorization"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert functions.calls == []  # a mock integration: the function never sees a preflight


def test_options_for_an_unknown_path_is_403(client):
    assert client.options("/nowhere").status_code == 403


def test_a_function_error_is_502(client, functions):
    functions.reply = Invocation(ok=False, error={"errorType": "Runtime.ImportModuleError", "errorMessage": "boom"})

    response = client.get(f"/predictions/{IMAGE_ID}")

    assert response.status_code == 502
    assert response.get_json() == {"message": "Internal server error"}
    assert "boom" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "result",
    [
        None,
        "a string",
        {"body": "no status"},
        {"statusCode": "200", "body": "{}"},
        {"statusCode": 200, "headers": "not a mapping"},
    ],
)
def test_a_malformed_function_response_is_502(client, functions, result):
    functions.reply = Invocation(ok=True, result=result)

    response = client.get(f"/predictions/{IMAGE_ID}")

    assert (response.status_code, response.get_json()) == (502, {"message": "Internal server error"})


def test_a_body_over_10_mb_is_413_and_never_reaches_the_function(client, functions):
    response = client.post("/uploads", data=b"x" * (MAX_PAYLOAD_BYTES + 1), content_type="application/json")

    assert response.status_code == 413
    assert response.get_json() == {"message": "Request Too Long"}
    assert functions.calls == []


def test_a_body_of_exactly_10_mb_is_passed_on(client, functions):
    client.post("/uploads", data=b"x" * MAX_PAYLOAD_BYTES, content_type="application/json")

    assert len(functions.event["body"]) == MAX_PAYLOAD_BYTES


def test_head_is_not_routed_to_a_get_route_as_api_gateway_has_no_implicit_head(client, functions):
    reply = client.head(f"/predictions/{IMAGE_ID}")

    assert reply.status_code == 403
    assert functions.calls == []


def test_a_path_with_doubled_slashes_is_not_routed_rather_than_crashing_the_host(client, functions):
    reply = client.get("/predictions/....//")

    assert reply.status_code == 403
    assert json.loads(reply.data) == {"message": "Missing Authentication Token"}
    assert functions.calls == []


def test_invocations_run_on_reused_threads_not_one_started_per_request(template):
    # Starting a thread waits for it to be scheduled: on a loaded machine that alone added tens of milliseconds
    # to the API's p99 (docs/benchmark.md, the local API under load).
    threads: list[threading.Thread] = []  # the objects, not their idents: a new thread may reuse a dead one's

    def invoke(function: str, event: dict[str, Any]) -> Invocation:
        threads.append(threading.current_thread())
        return Invocation(ok=True, result=OK)

    routes = api_routes(function_specs(template, {}), "Api")
    client = Client(RestApi(api_settings(template, "Api"), routes, invoke, access_log=lambda line: None))
    for _ in range(5):
        client.get(f"/predictions/{IMAGE_ID}")

    assert len(threads) == 5 and len({id(thread) for thread in threads}) < 5
