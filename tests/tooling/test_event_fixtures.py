"""events/ holds what AWS delivers: every fixture has at least the keys of `sam local generate-event`'s shape."""

import json
import os
import subprocess
from typing import Any

import pytest

from infra.paths import REPO_ROOT

SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"
EVENTS = {path.stem: json.loads(path.read_text()) for path in sorted((REPO_ROOT / "events").glob("*.json"))}
API_EVENTS = [name for name, event in EVENTS.items() if "httpMethod" in event]
SQS_EVENTS = [name for name, event in EVENTS.items() if "Records" in event]

pytestmark = pytest.mark.skipif(not SAM.is_file(), reason="aws-sam-cli not installed in .venv-sam (run `make sam`)")


def generate_event(service: str, event_type: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(SAM), "local", "generate-event", service, event_type],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        check=True,
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def sam_api_event() -> dict[str, Any]:
    return generate_event("apigateway", "aws-proxy")


@pytest.fixture(scope="module")
def sam_sqs_event() -> dict[str, Any]:
    return generate_event("sqs", "receive-message")


@pytest.fixture(scope="module")
def sam_s3_event() -> dict[str, Any]:
    return generate_event("s3", "put")


def missing_keys(expected: dict[str, Any], actual: dict[str, Any], where: str = "") -> list[str]:
    """Keys of `expected` (recursively, through objects) that `actual` lacks."""
    missing = []
    for key, value in expected.items():
        if key not in actual:
            missing.append(f"{where}{key}")
        elif isinstance(value, dict) and isinstance(actual[key], dict) and value:
            missing += missing_keys(value, actual[key], f"{where}{key}.")
    return missing


def test_there_are_fixtures_of_both_kinds():
    assert len(API_EVENTS) >= 10 and len(SQS_EVENTS) >= 2, sorted(EVENTS)


@pytest.mark.parametrize("name", API_EVENTS)
def test_an_api_fixture_has_the_shape_of_an_api_gateway_proxy_event(sam_api_event, name):
    event = EVENTS[name]
    # Headers and parameters vary per request: the envelope and its request context must not.
    envelope = {key: value for key, value in sam_api_event.items() if key not in ("headers", "multiValueHeaders")}
    for parameters in ("pathParameters", "queryStringParameters", "multiValueQueryStringParameters", "stageVariables"):
        envelope[parameters] = {}

    assert missing_keys(envelope, event) == []
    assert event["requestContext"]["httpMethod"] == event["httpMethod"]
    assert event["requestContext"]["resourcePath"] == event["resource"]
    assert {name.lower() for name in event["headers"]} == {name.lower() for name in event["multiValueHeaders"]}


@pytest.mark.parametrize("name", SQS_EVENTS)
def test_an_sqs_fixture_has_the_shape_of_an_sqs_event_carrying_s3_notifications(sam_sqs_event, sam_s3_event, name):
    for record in EVENTS[name]["Records"]:
        assert missing_keys(sam_sqs_event["Records"][0], record) == []
        body = json.loads(record["body"])
        if "Records" in body:  # an S3 notification (the other kind is S3's TestEvent)
            for notification in body["Records"]:
                assert missing_keys(sam_s3_event["Records"][0], notification) == []


def test_the_shape_check_notices_a_missing_key(sam_api_event):
    event = json.loads(json.dumps(EVENTS["get_prediction"]))
    del event["requestContext"]["identity"]["sourceIp"]

    assert "requestContext.identity.sourceIp" in missing_keys(sam_api_event, event)
