"""Component-test helpers: the real handlers, under moto, against resources and environment taken from template.yaml.

Nothing here restates a resource name or an environment variable: `provision` creates what the template
declares and `function_specs` gives each function the environment the template gives it. A handler module
reads its settings when imported, so each test imports it afresh (and puts the previous modules back after).
"""

import copy
import importlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.loaders import Loader, create_loader
from moto import mock_aws

from infra.functions import LOCAL_ENV_VARS, FunctionSpec, function_specs
from infra.local.provision import provision
from infra.paths import REPO_ROOT
from infra.template import LocalNames, ResolvedTemplate, load_template
from tests.support.lambda_context import FakeLambdaContext

REGION = "us-east-1"
FUNCTION_PACKAGES = ("upload", "feedback", "reviews", "classify", "reconcile")
# What infra/local/env-vars.json does for the local stack (its paths are relative to the repository): untrained weights
# allowed (none are ever downloaded in tests), the converted model of `make model` (the `served_model` fixture) and
# the safety model `make models` converts (a missing one is tolerated, with a warning, as locally).
LOCAL_ENVIRONMENT = json.loads(LOCAL_ENV_VARS.read_text())["ClassifyFunction"]
SAFETY_MODEL = REPO_ROOT / LOCAL_ENVIRONMENT["SAFETY_MODEL_PATH"]
ENVIRONMENT_OVERRIDES = {
    "ClassifyFunction": {
        name: str(REPO_ROOT / value) if name.endswith("_PATH") else value for name, value in LOCAL_ENVIRONMENT.items()
    }
}


@dataclass
class MockedStack:
    """The template's resources inside moto, and the functions as the template configures them."""

    template: ResolvedTemplate
    session: boto3.Session
    specs: dict[str, FunctionSpec]
    environment: pytest.MonkeyPatch

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def table(self, logical_id: str) -> Any:
        return self.session.resource("dynamodb").Table(self.template.physical_name(logical_id))

    @property
    def bucket(self) -> str:
        return self.template.physical_name("ImagesBucket")

    def context(self, logical_id: str) -> FakeLambdaContext:
        spec = self.specs[logical_id]
        return FakeLambdaContext(spec.name, spec.arn, spec.memory_mb, log_group_name=f"/aws/lambda/{spec.name}")

    @contextmanager
    def handler_module(self, logical_id: str) -> Iterator[Any]:
        """Imports the module of the function's handler with the function's environment, as a cold start does."""
        spec = self.specs[logical_id]
        for name, value in spec.environment.items():
            self.environment.setenv(name, value)
        saved = {name: module for name, module in sys.modules.items() if _is_function_module(name)}
        for name in saved:
            del sys.modules[name]
        try:
            yield importlib.import_module(spec.handler.rsplit(".", 1)[0])
        finally:
            for name in [name for name in sys.modules if _is_function_module(name)]:
                del sys.modules[name]
            sys.modules.update(saved)


def _is_function_module(name: str) -> bool:
    return name.split(".", 1)[0] in FUNCTION_PACKAGES


@cache
def _template() -> dict[str, Any]:
    return load_template()


@cache
def _service_models() -> Loader:
    return create_loader()


def _botocore_session() -> botocore.session.Session:
    """A new session (moto's state is per mock) sharing parsed service models, which take most of a set-up."""
    session = botocore.session.Session()
    session.register_component("data_loader", _service_models())
    return session


@contextmanager
def mocked_stack() -> Iterator[MockedStack]:
    with pytest.MonkeyPatch.context() as environment:
        # Any endpoint or profile from the developer's shell would send boto3 past moto.
        for name in list(os.environ):
            if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
                environment.delenv(name)
        environment.setenv("AWS_CONFIG_FILE", os.devnull)
        environment.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            environment.setenv(name, "testing")
        environment.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws():
            # Modules share a stack and classify the same sample photos many times, which reused_photo would send
            # to review: reuse is counted in the photo bank's own tests (test_photo_bank_tables.py and
            # tests/integration/test_photo_bank_flow.py), not here.
            names = LocalNames(region=REGION, parameter_overrides={"CountPhotoReuse": "false"})
            template = ResolvedTemplate(copy.deepcopy(_template()), names)
            session = boto3.Session(botocore_session=_botocore_session(), region_name=REGION)
            provision(template, session, log=lambda line: None)
            yield MockedStack(template, session, function_specs(template, {}, ENVIRONMENT_OVERRIDES), environment)


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header, from whichever of the two maps Powertools filled."""
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return ",".join(values)
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    return None
