"""infra.apidocs.openapi: one valid OpenAPI document, built from the functions' resolvers, covering every route."""

import json
import re
import tomllib
from typing import Any

import pytest
from openapi_spec_validator import validate

from infra.apidocs.openapi import OpenApiMismatch, build_document
from infra.paths import REPO_ROOT
from infra.template import LocalNames, ResolvedTemplate, load_template

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
GATEWAY_STATUSES = {"413", "429", "502", "504"}


def template_api_events() -> list[dict[str, Any]]:
    """Every `Api` event of every function, straight from template.yaml."""
    resources = load_template()["Resources"]
    return [
        event["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "Api"
    ]


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def test_the_document_is_valid_openapi_3_1(document):
    validate(document)

    assert document["openapi"].startswith("3.1")


def test_title_and_version_come_from_the_project(document):
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        version = tomllib.load(handle)["project"]["version"]

    assert document["info"]["title"] == "photomod API"
    assert document["info"]["version"] == version


def test_every_api_route_in_the_template_is_described(document):
    routes = {(event["Path"], event["Method"].lower()) for event in template_api_events()}

    described = {(path, method) for path, method, _ in operations(document) if method != "options"}
    assert routes, "the template has no Api events"
    assert described == routes


def test_every_path_has_the_cors_preflight_api_gateway_answers(document):
    for path, item in document["paths"].items():
        preflight = item["options"]["responses"]["200"]
        assert "security" not in item["options"], f"a browser's preflight never carries the API key ({path})"
        assert "Access-Control-Allow-Origin" in preflight["headers"], path


def test_routes_that_need_a_key_or_a_staff_token_say_so_and_document_the_gateways_refusal(document):
    keyed = {(event["Path"], event["Method"].lower()) for event in template_api_events() if _api_key_required(event)}
    staff = {(event["Path"], event["Method"].lower()) for event in template_api_events() if _authorizer(event)}

    assert staff, "the staff routes name the Cognito authorizer"
    if keyed:
        assert document["components"]["securitySchemes"]["ApiKey"]["name"] == "x-api-key"
    assert document["components"]["securitySchemes"]["StaffAuthorizer"]["name"] == "Authorization"
    for path, method, operation in operations(document):
        expected = [{"ApiKey": []}] * ((path, method) in keyed) + [{"StaffAuthorizer": []}] * ((path, method) in staff)
        if expected:
            assert operation["security"] == expected, (method, path)
        else:
            assert "security" not in operation, (method, path)
        if (path, method) in keyed:
            assert "GatewayError" in _refs(operation["responses"]["403"])
        if (path, method) in staff:
            assert "GatewayError" in _refs(operation["responses"]["401"])
            assert "403" in operation["responses"], "the function's answer to a member of another group"


def _api_key_required(event: dict[str, Any]) -> bool:
    return bool(event.get("Auth", {}).get("ApiKeyRequired"))


def _authorizer(event: dict[str, Any]) -> bool:
    return bool(event.get("Auth", {}).get("Authorizer"))


def test_the_feedback_export_is_an_analysts_csv_with_documented_paging(document):
    export = document["paths"]["/feedback.csv"]["get"]

    assert export["security"] == [{"StaffAuthorizer": []}]
    assert "text/csv" in export["responses"]["200"]["content"]
    assert {"Link", "X-Next-Cursor"} <= set(export["responses"]["200"]["headers"])
    parameters = {parameter["name"]: parameter for parameter in export["parameters"]}
    assert parameters["limit"]["schema"]["maximum"] == 1000
    assert parameters["limit"]["schema"]["default"] == 200
    assert parameters["cursor"]["in"] == "query"


def test_function_and_gateway_errors_are_documented_with_their_own_bodies(document):
    for path, method, operation in operations(document):
        responses = operation["responses"]
        if method == "options":
            continue
        assert "422" not in responses, f"{method} {path}: the resolvers answer validation errors with 400"
        if path == "/rekognition":  # Rekognition's own error shape (JSON 1.1), so the AWS SDKs raise its exceptions
            for status in ("400", "500"):
                error_schema = responses[status]["content"]["application/x-amz-json-1.1"]["schema"]
                assert error_schema["required"] == ["__type", "message"], status
            continue
        assert _ref(responses["500"]) == "ErrorBody", (method, path)
        if operation.get("parameters") or operation.get("requestBody"):
            assert _ref(responses["400"]) == "ErrorBody", (method, path)
        for status in GATEWAY_STATUSES:
            assert "GatewayError" in _refs(responses[status]), (method, path, status)
    error = document["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error"]
    assert document["components"]["schemas"]["ErrorDetail"]["required"] == ["code", "message"]


def test_request_models_come_from_the_handlers(document):
    upload = document["paths"]["/uploads"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    feedback = document["paths"]["/predictions/{image_id}/feedback"]["post"]["requestBody"]["content"]

    assert upload == {"$ref": "#/components/schemas/UploadRequest"}
    assert feedback["application/json"]["schema"] == {"$ref": "#/components/schemas/FeedbackRequest"}
    assert "inappropriate" in document["components"]["schemas"]["FeedbackRequest"]["properties"]


def test_every_reference_resolves_and_no_schema_is_left_unused(document):
    text = json.dumps(document)
    referenced = set(re.findall(r'"#/components/schemas/([^"]+)"', text))

    assert referenced == set(document["components"]["schemas"])


def test_operation_ids_are_unique(document):
    ids = [operation["operationId"] for _, _, operation in operations(document)]

    assert len(ids) == len(set(ids))


def test_a_template_route_no_function_serves_is_an_error():
    template = load_template()
    events = template["Resources"]["FeedbackFunction"]["Properties"]["Events"]
    events["Ghost"] = {"Type": "Api", "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/ghost", "Method": "get"}}

    with pytest.raises(OpenApiMismatch, match="GET /ghost"):
        build_document(ResolvedTemplate(template, LocalNames()))


def test_the_default_server_is_the_deployed_stage(document):
    (server,) = document["servers"]

    assert server["url"].endswith(".execute-api.{region}.amazonaws.com/v1")


def _ref(response: dict[str, Any]) -> str:
    return response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


def _refs(response: dict[str, Any]) -> set[str]:
    """The schemas a JSON response may have: where a function answers a gateway status too, either body."""
    schema = response["content"]["application/json"]["schema"]
    return {option["$ref"].rsplit("/", 1)[-1] for option in schema.get("anyOf", [schema]) if "$ref" in option}


def test_a_status_both_the_function_and_the_gateway_answer_allows_either_body(document):
    too_large = document["paths"]["/predict"]["post"]["responses"]["413"]

    assert _refs(too_large) == {"PredictReply", "GatewayError"}


def test_the_committed_document_matches_the_code(document):
    """docs/openapi.json is what clients read without running anything: `make openapi` must be rerun on change."""
    committed = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(document)), "docs/openapi.json is stale: run `make openapi`"
