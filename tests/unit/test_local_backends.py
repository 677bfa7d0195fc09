"""The local stack's backends and addresses: LocalStack's settings and lifecycle, the page's two loopback
origins (bucket CORS, the local gateway, the functions' CORS), and the outputs file."""

from pathlib import Path

import pytest
from aws_lambda_powertools.event_handler import Response
from werkzeug.test import Client

from infra.functions import function_specs
from infra.local.apigateway import RestApi
from infra.local.invoker import Invocation
from infra.local.localstack import LocalStackProcess, localstack_environment
from infra.local.provision import _cors_configuration
from infra.local.stack import loopback_twin
from infra.rest_api import api_routes, api_settings
from infra.template import LocalNames, ResolvedTemplate, load_template
from photomod_shared.api import create_resolver

PAGE = "http://localhost:8000"
TWIN = "http://127.0.0.1:8000"


# --- LocalStack ------------------------------------------------------------------------------------


def test_localstack_listens_on_loopback_only_offline_and_without_docker(tmp_path: Path):
    environment = localstack_environment("127.0.0.1", 4566, tmp_path)

    assert environment["GATEWAY_LISTEN"] == "127.0.0.1:4566"
    assert environment["GATEWAY_SERVER"] == "hypercorn"  # the default server binds 0.0.0.0
    assert environment["OVERRIDE_IN_DOCKER"] == "0"
    assert environment["DNS_ADDRESS"] == "0"
    assert environment["DISABLE_EVENTS"] == "1"
    assert environment["SKIP_SSL_CERT_DOWNLOAD"] == "1"
    assert environment["S3_SKIP_SIGNATURE_VALIDATION"] == "0"
    assert environment["FILESYSTEM_ROOT"] == str(tmp_path)
    # events and ssm: the verdict bus and a shop's policy (docs/integrations.md)
    assert set(environment["SERVICES"].split(",")) == {"s3", "sqs", "sts", "events", "ssm"}


def test_localstack_does_not_inherit_the_callers_aws_settings(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("LOCALSTACK_AUTH_TOKEN", "secret")

    environment = localstack_environment("127.0.0.1", 4566, tmp_path)

    assert "AWS_ENDPOINT_URL" not in environment
    assert "LOCALSTACK_AUTH_TOKEN" not in environment


def test_starting_without_the_localstack_venv_says_how_to_install_it(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("infra.local.localstack.LOCALSTACK_PYTHON", tmp_path / "missing" / "python")

    with pytest.raises(SystemExit, match="make localstack"):
        LocalStackProcess("127.0.0.1", 1, tmp_path, tmp_path / "log").start()


# --- the page's two loopback origins ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "twin"),
    [
        (PAGE, TWIN),
        (TWIN, PAGE),
        ("http://localhost", "http://127.0.0.1"),
        ("https://photos.example.com", None),
        ("http://10.0.0.5:8000", None),
    ],
)
def test_only_loopback_origins_have_a_twin(origin: str, twin: str | None):
    assert loopback_twin(origin) == twin


def test_bucket_cors_rule_for_the_page_also_allows_its_twin():
    cors = {"CorsRules": [{"AllowedOrigins": [PAGE], "AllowedMethods": ["POST"], "MaxAge": 600}]}

    rules = _cors_configuration(cors, {PAGE: [TWIN]})["CORSRules"]

    assert rules == [{"AllowedOrigins": [PAGE, TWIN], "AllowedMethods": ["POST"], "MaxAgeSeconds": 600}]


def test_bucket_cors_without_aliases_is_the_templates():
    cors = {"CorsRules": [{"AllowedOrigins": [PAGE], "AllowedMethods": ["POST"]}]}

    assert _cors_configuration(cors, {})["CORSRules"] == [{"AllowedOrigins": [PAGE], "AllowedMethods": ["POST"]}]


@pytest.fixture
def gateway() -> Client:
    template = ResolvedTemplate(load_template(), LocalNames(parameter_overrides={"WebOrigin": PAGE}))
    routes = api_routes(function_specs(template, {}), "Api")
    reply = Invocation(ok=True, result={"statusCode": 200, "headers": {}, "body": "{}"})
    api = RestApi(
        api_settings(template, "Api"), routes, lambda *_: reply, access_log=lambda _: None, origin_aliases=[TWIN]
    )
    return Client(api)


@pytest.mark.parametrize(("origin", "allowed"), [(PAGE, PAGE), (TWIN, TWIN), ("http://127.0.0.1:8001", PAGE)])
def test_gateway_preflight_names_the_page_at_either_address(gateway: Client, origin: str, allowed: str):
    reply = gateway.options("/uploads", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})

    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == allowed


@pytest.mark.parametrize(("origin", "allowed"), [(TWIN, TWIN), ("https://evil.example", PAGE)])
def test_gateway_errors_name_the_page_at_either_address(gateway: Client, origin: str, allowed: str):
    reply = gateway.get("/no-such-route", headers={"Origin": origin})

    assert reply.status_code == 403
    assert reply.headers["Access-Control-Allow-Origin"] == allowed


def test_function_responses_are_not_rewritten_by_the_gateway(gateway: Client):
    reply = gateway.post("/uploads", headers={"Origin": TWIN}, json={})

    assert reply.status_code == 200
    assert "Access-Control-Allow-Origin" not in reply.headers  # only the function decides its own CORS


def _resolver_reply(web_origin: str, origin: str) -> dict:
    app = create_resolver(web_origin)

    @app.get("/ping")
    def ping() -> Response:
        return Response(status_code=200, content_type="application/json", body="{}")

    event = {
        "resource": "/ping",
        "path": "/ping",
        "httpMethod": "GET",
        "headers": {"Origin": origin},
        "multiValueHeaders": {"Origin": [origin]},
        "requestContext": {"stage": "v1", "resourcePath": "/ping", "httpMethod": "GET"},
        "body": None,
        "isBase64Encoded": False,
    }
    return app.resolve(event, None)


@pytest.mark.parametrize("origin", [PAGE, TWIN])
def test_functions_allow_every_origin_they_are_given(origin: str):
    reply = _resolver_reply(f"{PAGE},{TWIN}", origin)

    assert reply["multiValueHeaders"]["Access-Control-Allow-Origin"] == [origin]


def test_functions_given_one_origin_allow_only_it():
    assert "Access-Control-Allow-Origin" not in _resolver_reply(PAGE, TWIN).get("multiValueHeaders", {})
    assert _resolver_reply(PAGE, PAGE)["multiValueHeaders"]["Access-Control-Allow-Origin"] == [PAGE]
