"""`make invoke`: every event fixture in events/ runs its function once, as the local host runs it."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.local.invoke import invoke
from infra.paths import REPO_ROOT
from infra.template import ResolvedTemplate
from tests.integration.conftest import BACKEND, STACK_OPTIONS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.local_only("invokes functions with the local host"),
    pytest.mark.skipif(
        BACKEND != "moto", reason="runs once, in the moto pass: the fixtures name the emulator's account and resources"
    ),
]

EVENT_FILES = sorted((REPO_ROOT / "events").glob("*.json"))


def _kind(event: dict[str, Any]) -> str:
    if "Records" in event:
        return "sqs"
    return "schedule" if event.get("detail-type") == "Scheduled Event" else "api"


def function_for(event: dict[str, Any], template: ResolvedTemplate) -> str:
    """The function the template routes this event to: by method and resource, or by the source queue."""
    for function, resource in template.resources_of_type("AWS::Serverless::Function").items():
        for source in resource["Properties"].get("Events", {}).values():
            properties = template.resolve(source["Properties"])
            if source["Type"] == "Api" and "httpMethod" in event:
                if (properties["Method"].upper(), properties["Path"]) == (event["httpMethod"], event["resource"]):
                    return function
            elif source["Type"] == "SQS" and "Records" in event:
                queue = properties["Queue"].rsplit(":", 1)[-1]
                if event["Records"][0]["eventSourceARN"].rsplit(":", 1)[-1] == queue:
                    return function
            elif source["Type"] == "Schedule" and event.get("detail-type") == "Scheduled Event":
                return function
    raise AssertionError("no function of template.yaml receives this event")


def test_there_is_a_fixture_for_every_route_and_event_source(local_stack) -> None:
    template = local_stack.template
    sources = {
        (function, name)
        for function, resource in template.resources_of_type("AWS::Serverless::Function").items()
        for name in resource["Properties"].get("Events", {})
    }
    covered = set()
    for path in EVENT_FILES:
        event = json.loads(path.read_text())
        function = function_for(event, template)
        for name, source in template.resources[function]["Properties"]["Events"].items():
            properties = template.resolve(source["Properties"])
            if source["Type"] == "Api" and "httpMethod" in event:
                if (properties["Method"].upper(), properties["Path"]) == (event["httpMethod"], event["resource"]):
                    covered.add((function, name))
            elif (source["Type"], _kind(event)) in (("SQS", "sqs"), ("Schedule", "schedule")):
                covered.add((function, name))

    assert sources - covered == set()


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda path: path.stem)
def test_each_event_fixture_runs_its_function_once(local_stack, path: Path) -> None:
    event = json.loads(path.read_text())
    function = function_for(event, local_stack.template)

    result = invoke(
        function,
        event,
        endpoint_url=local_stack.endpoint_url,
        run_dir=local_stack.run_dir,
        parameters=local_stack.template.names.parameter_overrides,
        # as the test stacks allow (tests/integration/conftest.py): the loaded test machine, not the service
        init_timeout_s=float(STACK_OPTIONS[1]),
    )

    assert result.invocation.ok, result.invocation.error
    if "httpMethod" in event:
        # The fixtures name photos this stack does not hold: a 4xx is a fine answer, a 5xx never is.
        assert 200 <= result.invocation.result["statusCode"] < 500, result.invocation.result
    elif "Records" in event:
        assert isinstance(result.invocation.result["batchItemFailures"], list)


def test_make_invoke_prints_the_result_and_the_logs_like_sam_local_invoke(local_stack) -> None:
    command = [sys.executable, "-m", "infra.local.invoke", "PredictFunction", "events/predict_wrong_method.json"]
    command += ["--endpoint-url", local_stack.endpoint_url, "--run-dir", str(local_stack.run_dir)]
    for name, value in local_stack.template.names.parameter_overrides.items():
        command += ["--parameter", f"{name}={value}"]

    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["statusCode"] == 405  # GET /predict, as the original service answered
    assert "START RequestId:" in result.stderr and "REPORT RequestId:" in result.stderr
    assert "Init Duration:" in result.stderr  # one cold invocation


def test_make_invoke_says_how_to_start_an_endpoint_when_none_answers(tmp_path) -> None:
    command = [sys.executable, "-m", "infra.local.invoke", "UploadFunction", "events/get_prediction.json"]
    command += ["--endpoint-url", "http://127.0.0.1:9", "--run-dir", str(tmp_path)]

    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)

    assert result.returncode != 0
    assert "make up" in result.stderr
