"""Prints template.yaml as CloudFormation after the SAM transform (roles with their policies, policy templates
expanded), using the translator SAM CLI itself uses. Runs in .venv-sam: `.venv-sam/bin/python sam_translate.py T`.
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
    translated = transform(template, parameters, _NoManagedPolicies())
    json.dump(translated, sys.stdout)


if __name__ == "__main__":
    main()
