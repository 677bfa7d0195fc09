"""Reads template.yaml and resolves it for a local stack: the one place resources are named.

Physical names follow what CloudFormation does without explicit names (`<stack>-<LogicalId>`), so the
emulator and AWS differ only in the random suffix CloudFormation adds.
"""

import argparse
import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from infra.paths import REPO_ROOT

TEMPLATE_PATH = REPO_ROOT / "template.yaml"
DECODED_TEMPLATES = REPO_ROOT / ".aws-sam" / "local" / "decoded-templates"


# What `!Ref AWS::NoValue` resolves to until the property holding it is dropped.
_NO_VALUE = object()


class TemplateError(ValueError):
    """template.yaml could not be read as a CloudFormation template."""


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template with its short-form intrinsics in long form (`!GetAtt A.Arn` -> {"Fn::GetAtt": ["A", "Arn"]}),
    decoded by cfn-lint, the linter `make lint` runs on the same file.

    Importing cfn-lint takes seconds (it loads sympy), and every process of the local stack reads the template:
    so each decoded version is kept, by content and cfn-lint version, in plain JSON beside the build cache.
    """
    source = path.read_bytes()
    key = hashlib.sha256(source + metadata.version("cfn-lint").encode()).hexdigest()
    cached = DECODED_TEMPLATES / f"{key}.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(cached.read_text())
    # Plain dicts, lists and strings (cfn-lint's nodes carry their line numbers): what the cache gives back too.
    template = json.loads(json.dumps(_decode(path)))
    with contextlib.suppress(OSError):  # a checkout that cannot be written to decodes every time
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")  # several processes may decode at once
        partial.write_text(json.dumps(template))
        os.replace(partial, cached)
    return template


def _decode(path: Path) -> Any:
    from cfnlint.decode import decode  # here, not at the top: only a template not decoded before needs it

    template, problems = decode(str(path))
    if template is None or problems:
        raise TemplateError(f"{path}: " + "; ".join(str(problem) for problem in problems))
    return template


@dataclass
class LocalNames:
    """How the template's resources are named and addressed on the local emulator."""

    stack_name: str = "photomod-local"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    endpoint_url: str = "http://127.0.0.1:4566"
    parameter_overrides: dict[str, str] = field(default_factory=dict)


class ResolvedTemplate:
    """The template with intrinsic functions evaluated against local names."""

    def __init__(self, template: dict[str, Any], names: LocalNames):
        self.template = template
        self.names = names
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        self.parameters = {
            name: str(names.parameter_overrides.get(name, spec.get("Default", "")))
            for name, spec in template.get("Parameters", {}).items()
        }
        unknown = set(names.parameter_overrides) - set(self.parameters)
        if unknown:
            raise ValueError(f"unknown template parameters: {', '.join(sorted(unknown))}")
        # A resource whose Condition is false does not exist, as in CloudFormation (e.g. no webhook without WebhookUrl).
        self.resources = {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    # ---- names
    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        explicit = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::Events::EventBus": "Name",
            "AWS::Cognito::UserPoolGroup": "GroupName",
            "AWS::Cognito::UserPool": "UserPoolName",
            "AWS::SecretsManager::Secret": "Name",
            "AWS::Events::Rule": "Name",
        }
        key = explicit.get(resource["Type"])
        if key and key in resource.get("Properties", {}):
            return str(self.resolve(resource["Properties"][key]))
        return f"{self.names.stack_name}-{logical_id}"

    def queue_url(self, logical_id: str) -> str:
        return f"{self.names.endpoint_url}/{self.names.account_id}/{self.physical_name(logical_id)}"

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        region, account = self.names.region, self.names.account_id
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{region}:{account}:{name}"
        if kind == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        if kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{region}:{account}:function:{name}"
        if kind == "AWS::Events::EventBus":
            return f"arn:aws:events:{region}:{account}:event-bus/{name}"
        if kind == "AWS::Cognito::UserPool":
            # Cognito picks a pool's id when it creates it; the local stack knows it only once provisioned.
            return f"arn:aws:cognito-idp:{region}:{account}:userpool/{name}"
        raise ValueError(f"no local ARN for {logical_id} ({kind})")

    def logical_id_for_arn(self, arn: str) -> str:
        for logical_id, resource in self.resources.items():
            if (
                resource["Type"] in ("AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::DynamoDB::Table")
                and self.arn(logical_id) == arn
            ):
                return logical_id
        raise KeyError(f"no resource with ARN {arn}")

    def resources_of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {logical_id: resource for logical_id, resource in self.resources.items() if resource["Type"] == kind}

    # ---- intrinsic functions
    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::StackName": self.names.stack_name,
            "AWS::Region": self.names.region,
            "AWS::AccountId": self.names.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        if self.resources[name]["Type"] == "AWS::SQS::Queue":
            return self.queue_url(name)
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "QueueName":
            return self.physical_name(logical_id)
        if attribute == "QueueUrl":
            return self.queue_url(logical_id)
        if attribute == "RegionalDomainName" and self.resources[logical_id]["Type"] == "AWS::S3::Bucket":
            return f"{self.physical_name(logical_id)}.s3.{self.names.region}.amazonaws.com"
        if self.resources[logical_id]["Type"].startswith("AWS::CloudFront::"):
            return ""  # the local stack runs no CDN: a setting naming its domain is empty (functions then do without)
        raise ValueError(f"unsupported attribute {logical_id}.{attribute}")

    def _substitute(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):  # ${!Literal} is CloudFormation's escape for a literal ${Literal}
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(self.resolve(variables[expression]))
            if "." in expression and not expression.startswith("AWS::"):
                logical_id, attribute = expression.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(expression)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                logical_id, attribute = argument
                return self.get_att(logical_id, attribute)
            if function == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                return self._substitute(text, variables)
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if function == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if function == "Fn::FindInMap":
                mapping, top_key, second_key = self.resolve(argument)
                return self.template["Mappings"][mapping][top_key][second_key]
            if function == "Fn::If":
                condition, if_true, if_false = argument
                return self.resolve(if_true if self.condition(condition) else if_false)
            if function == "Fn::Equals":
                left, right = self.resolve(argument)
                return str(left) == str(right)
            if function == "Fn::Not":
                (inner,) = argument
                return not self.resolve(inner)
            if function == "Condition":
                return self.condition(argument)
        # `!Ref AWS::NoValue` removes the property, as in CloudFormation.
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}


def parameter_override(text: str) -> tuple[str, str]:
    """A command line's `Name=Value` template parameter override (argparse type)."""
    name, separator, value = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return name, value
