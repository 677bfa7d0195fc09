"""Prints template.yaml as CloudFormation after the SAM transform (roles with their policies, policy templates
expanded), using the translator SAM CLI itself uses. Runs in .venv-sam:
`.venv-sam/bin/python infra/checks/sam_translate.py T`.
"""

import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _NoManagedPolicies:
    """The template names managed policies by ARN only, so there is nothing to look up in IAM (offline)."""

    def load(self) -> dict[str, str]:
        return {}


def main() -> None:
    with open(sys.argv[1]) as handle:
        template = yaml_parse(handle.read())
    parameters = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    # As `sam validate` does: local code folders and images are what `sam package` would upload; the roles
    # do not depend on where the code lives.
    for resource in template.get("Resources", {}).values():
        properties = resource.setdefault("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            if properties.get("PackageType") == "Image":
                properties["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/placeholder:latest"
            else:
                properties["CodeUri"] = "s3://placeholder-bucket/code.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = "s3://placeholder-bucket/layer.zip"
    translated = transform(template, parameters, _NoManagedPolicies())
    json.dump(translated, sys.stdout)


if __name__ == "__main__":
    main()
