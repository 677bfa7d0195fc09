"""samconfig.toml lets `make deploy` run without questions, for both environments."""

import re
import tomllib

import pytest

from infra.paths import REPO_ROOT
from infra.template import load_template

CONFIG = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_each_environment_deploys_without_prompts(environment):
    deploy = CONFIG[environment]["deploy"]["parameters"]

    # What `sam deploy --guided` would otherwise ask for: where to upload code and images, and IAM consent.
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True and deploy["resolve_image_repos"] is True
    assert deploy["fail_on_empty_changeset"] is False  # deploying twice is not an error


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_each_environment_names_a_stack_whose_bucket_name_is_valid(environment):
    stack = CONFIG[environment]["global"]["parameters"]["stack_name"]

    # <stack>-images-<12-digit account>: S3 allows 63 lowercase characters.
    assert re.fullmatch(r"[a-z][a-z0-9-]*", stack) and len(f"{stack}-images-123456789012") <= 63


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_parameter_overrides_name_only_template_parameters(environment):
    overrides = CONFIG[environment]["deploy"]["parameters"]["parameter_overrides"]
    names = set(re.findall(r'(\w+)="', overrides))

    assert names and names <= set(load_template()["Parameters"])
    assert "WebOrigin" in names


def test_the_environments_are_separate_stacks():
    stacks = {CONFIG[environment]["global"]["parameters"]["stack_name"] for environment in ("default", "prod")}

    assert len(stacks) == 2
