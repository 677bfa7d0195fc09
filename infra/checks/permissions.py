"""Checks the AWS calls each function made against its role in template.yaml, as IAM would.

Neither moto nor LocalStack's community edition enforces IAM faithfully, so the local host records every call
(infra/local/worker.py writes `<run dir>/logs/calls/<LogicalId>.jsonl`) and this module evaluates each one against
the function's policies after the SAM transform (policy templates expanded by SAM's own translator, in
.venv-sam) with @cloud-copilot/iam-simulate, an implementation of IAM's evaluation logic (tools/iam, run by
node). It adds what IAM adds on AWS:

- HeadObject is authorised as s3:GetObject, ListObjects(V2) as s3:ListBucket with the `s3:prefix` key;
- a GetObject/HeadObject of a missing key answers 404 only if the caller also has s3:ListBucket on the bucket,
  otherwise 403 AccessDenied: so a recorded 404 also needs s3:ListBucket (with `s3:prefix` = the key);
- a presigned URL or POST form is used with the signer's permissions: it needs the action it presigns.

    python -m infra.checks.permissions .run/logs/calls      # the calls of a `make up` session
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from infra.paths import REPO_ROOT
from infra.template import TEMPLATE_PATH, LocalNames, ResolvedTemplate, load_template

IAM_TOOLS = REPO_ROOT / "tools" / "iam"
SAM_TRANSLATE = Path(__file__).with_name("sam_translate.py")
SAM_PYTHON = REPO_ROOT / ".venv-sam" / "bin" / "python"
# Calls the Lambda service or IAM never authorises for a function's role.
UNAUTHORISED_OPERATIONS = {("sts", "GetCallerIdentity")}


@dataclass(frozen=True)
class AuthorizationRequest:
    """One question IAM answers for a call: may the role do `action` on `resource` (with `context`)?"""

    function: str
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    reason: str = ""

    def needed_statement(self) -> dict[str, Any]:
        statement: dict[str, Any] = {"Effect": "Allow", "Action": self.action, "Resource": self.resource}
        prefix = dict(self.context).get("s3:prefix")
        if prefix is not None:
            folder = prefix.split("/", 1)[0] + "/*" if "/" in prefix else prefix
            statement["Condition"] = {"StringLike": {"s3:prefix": [folder]}}
        return statement


@dataclass
class Denial:
    request: AuthorizationRequest
    calls: list[str]

    def __str__(self) -> str:
        context = ", ".join(f"{key}={value}" for key, value in self.request.context)
        return (
            f"{self.request.function} may not {self.request.action} on {self.request.resource}"
            + (f" ({context})" if context else "")
            + f" - needed by {'; '.join(sorted(set(self.calls))[:3])}"
            + (f" [{self.request.reason}]" if self.request.reason else "")
            + f"\n    add to its Policies: {json.dumps(self.request.needed_statement())}"
        )


@dataclass
class PermissionReport:
    denied: list[Denial] = field(default_factory=list)
    # Refused calls on resources the stack does not own (a test feeding an event about a foreign bucket): AWS
    # refuses them too, and the code's handling of that refusal is what those tests check, not the policy.
    foreign: list[Denial] = field(default_factory=list)
    unused: dict[str, list[str]] = field(default_factory=dict)  # function -> Sids no recorded call needed
    checked: int = 0

    def describe(self) -> str:
        lines = [f"{self.checked} distinct authorisation request(s) checked"]
        lines += [f"DENIED: {denial}" for denial in self.denied]
        lines += [f"refused, not the stack's resource: {denial.request.resource}" for denial in self.foreign]
        lines += [
            f"unused by the recorded calls: {function} {', '.join(sids)}" for function, sids in self.unused.items()
        ]
        return "\n".join(lines)


# ---------------------------------------------------------------- the policies, after the SAM transform


@cache
def _translated(template_path: Path, parameters_json: str) -> dict[str, Any]:
    if not SAM_PYTHON.is_file():
        raise RuntimeError("SAM's translator is not installed: run `make sam` (it lives in .venv-sam)")
    result = subprocess.run(  # noqa: S603 - our own script in our own virtual environment
        [str(SAM_PYTHON), str(SAM_TRANSLATE), str(template_path), parameters_json],
        capture_output=True,
        text=True,
        check=False,
        # The translator fills AWS::Region from the environment; ARNs are resolved later, for the local names.
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"the SAM transform failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def function_policies(names: LocalNames, template_path: Path = TEMPLATE_PATH) -> dict[str, list[dict[str, Any]]]:
    """{function LogicalId: [{"name", "policy"}]}: its role's inline policies, intrinsics resolved for `names`.

    Managed policies SAM attaches (logs, X-Ray, the SQS poller's) serve the Lambda service, not the handler.
    """
    translated = _translated(template_path, json.dumps(names.parameter_overrides, sort_keys=True))
    resolved = ResolvedTemplate(translated, names)
    policies: dict[str, list[dict[str, Any]]] = {}
    for logical_id, resource in load_template(template_path)["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function" or logical_id not in resolved.resources:
            continue  # not a function, or one whose Condition leaves it out (WebhookFunction without WebhookUrl)
        role = translated["Resources"][f"{logical_id}Role"]["Properties"]
        policies[logical_id] = [
            {"name": policy["PolicyName"], "policy": resolved.resolve(policy["PolicyDocument"])}
            for policy in role.get("Policies", [])
        ]
    return policies


# ---------------------------------------------------------------- recorded calls -> IAM requests


def read_calls(calls_dir: Path) -> dict[str, list[dict[str, Any]]]:
    calls: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(calls_dir.glob("*.jsonl")):
        calls[path.stem] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return calls


def _describe(call: dict[str, Any]) -> str:
    params = call.get("params", {})
    target = params.get("Key") or params.get("TableName") or ",".join(params.get("TableNames", [])) or ""
    how = f"presigned {call['presigned'].upper()}" if call.get("presigned") else f"answered {call.get('status')}"
    return f"{call['operation']} {target} ({how})".replace("  ", " ")


def authorization_requests(
    function: str, call: dict[str, Any], region: str, account: str
) -> list[AuthorizationRequest]:
    service, operation, params = call["service"], call["operation"], call.get("params", {})
    if (service, operation) in UNAUTHORISED_OPERATIONS:
        return []
    if service == "s3":
        bucket = f"arn:aws:s3:::{params.get('Bucket')}"
        key = params.get("Key")
        if operation in ("ListObjects", "ListObjectsV2"):
            return [AuthorizationRequest(function, "s3:ListBucket", bucket, (("s3:prefix", params.get("Prefix", "")),))]
        if operation == "HeadBucket":
            return [AuthorizationRequest(function, "s3:ListBucket", bucket)]
        if operation == "CopyObject":
            # IAM has no CopyObject action: a copy reads its source and writes its target.
            source = params.get("CopySource") or {}
            if isinstance(source, str):
                source_bucket, _, source_key = source.lstrip("/").partition("/")
            else:
                source_bucket, source_key = str(source.get("Bucket")), str(source.get("Key"))
            return [
                AuthorizationRequest(function, "s3:GetObject", f"arn:aws:s3:::{source_bucket}/{source_key}"),
                AuthorizationRequest(function, "s3:PutObject", f"{bucket}/{key}"),
            ]
        action = "s3:GetObject" if operation == "HeadObject" else f"s3:{operation}"
        if action == "s3:GetObject" and params.get("VersionId"):
            action = "s3:GetObjectVersion"  # reading a version by its id is a permission of its own
        requests = [AuthorizationRequest(function, action, f"{bucket}/{key}" if key is not None else bucket)]
        if operation in ("GetObject", "HeadObject") and call.get("status") == 404:
            requests.append(
                AuthorizationRequest(
                    function,
                    "s3:ListBucket",
                    bucket,
                    (("s3:prefix", key or ""),),
                    reason="on AWS a missing key answers 404 only with s3:ListBucket, otherwise 403 AccessDenied",
                )
            )
        return requests
    if service == "dynamodb":
        tables = params.get("TableNames") or [params.get("TableName")]
        suffix = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
        return [
            AuthorizationRequest(
                function, f"dynamodb:{operation}", f"arn:aws:dynamodb:{region}:{account}:table/{t}{suffix}"
            )
            for t in tables
        ]
    if service == "sqs" and params.get("QueueUrl"):
        queue_account, queue_name = urlparse(params["QueueUrl"]).path.strip("/").split("/")[-2:]
        return [
            AuthorizationRequest(function, f"sqs:{operation}", f"arn:aws:sqs:{region}:{queue_account}:{queue_name}")
        ]
    if service == "ssm" and params.get("Name"):
        # A parameter's ARN drops the name's leading slash: /stack/x is arn:...:parameter/stack/x.
        name = str(params["Name"]).lstrip("/")
        return [AuthorizationRequest(function, f"ssm:{operation}", f"arn:aws:ssm:{region}:{account}:parameter/{name}")]
    if service == "secretsmanager" and params.get("SecretId"):
        secret = str(params["SecretId"])
        # By name, IAM judges the secret's full ARN: its name plus the six random characters Secrets Manager adds.
        arn = (
            secret if secret.startswith("arn:") else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}-RANDOM"
        )
        return [AuthorizationRequest(function, f"secretsmanager:{operation}", arn)]
    if service == "events" and operation == "PutEvents":
        buses = set(params.get("EventBusNames") or ()) or {"default"}  # as infra/local/worker.py records them
        return [
            AuthorizationRequest(function, "events:PutEvents", _event_bus_arn(bus, region, account))
            for bus in sorted(buses)
        ]
    if service == "cloudfront" and operation == "CreateInvalidation":
        # CloudFront is global: a distribution's ARN names no region.
        distribution = params.get("DistributionId", "")
        return [
            AuthorizationRequest(
                function, "cloudfront:CreateInvalidation", f"arn:aws:cloudfront::{account}:distribution/{distribution}"
            )
        ]
    return [AuthorizationRequest(function, f"{service}:{operation}", "*")]


def _event_bus_arn(bus: str, region: str, account: str) -> str:
    return bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}"


# ---------------------------------------------------------------- evaluation


def _simulate(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not (IAM_TOOLS / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        raise RuntimeError("the IAM simulator is not installed: run `make iam` (npm ci in tools/iam)")
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed: the IAM simulator runs on Node.js (apt-get install nodejs)")
    result = subprocess.run(  # noqa: S603 - node runs our own script
        [node, str(IAM_TOOLS / "evaluate.mjs")],
        input=json.dumps({"requests": requests}),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the IAM simulator failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)["results"]


def stack_resource_arns(names: LocalNames, template_path: Path = TEMPLATE_PATH) -> list[str]:
    """The ARNs of the buckets, tables, queues, buses and parameters of the stack, for `names`."""
    template = ResolvedTemplate(load_template(template_path), names)
    kinds = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Events::EventBus")
    arns = [template.arn(logical_id) for kind in kinds for logical_id in template.resources_of_type(kind)]
    # The stack's SSM parameters (the shop's policy) are named under /<stack>/.
    return [*arns, f"arn:aws:ssm:{names.region}:{names.account_id}:parameter/{names.stack_name}"]


def _owned(resource: str, stack_arns: list[str]) -> bool:
    return any(resource == arn or resource.startswith(f"{arn}/") for arn in stack_arns)


def check_calls(
    calls: dict[str, list[dict[str, Any]]],
    policies: dict[str, list[dict[str, Any]]],
    names: LocalNames,
    stack_arns: list[str] | None = None,
) -> PermissionReport:
    """Evaluates every distinct request the recorded calls imply against the calling function's policies.

    With `stack_arns`, a refused request on any other resource is listed as foreign instead of denied.
    """
    why: dict[AuthorizationRequest, list[str]] = defaultdict(list)
    for function, records in calls.items():
        for call in records:
            for request in authorization_requests(function, call, names.region, names.account_id):
                why[request].append(_describe(call))
    requests = [request for request in why if request.function in policies]
    principal = "arn:aws:iam::{account}:role/{stack}-{function}Role"
    results = _simulate(
        [
            {
                "id": str(index),
                "principal": principal.format(account=names.account_id, stack=names.stack_name, function=r.function),
                "action": r.action,
                "resource": r.resource,
                "accountId": names.account_id,
                "context": dict(r.context),
                "policies": policies[r.function],
            }
            for index, r in enumerate(requests)
        ]
    )
    report = PermissionReport(checked=len(requests))
    used: dict[str, set[str]] = defaultdict(set)
    for request, result in zip(requests, results, strict=True):
        if result["errors"]:
            raise RuntimeError(f"the IAM simulator refused {request}: {json.dumps(result['errors'])[:2000]}")
        if result["decision"] == "Allowed":
            used[request.function].update(str(s["statement"]) for s in result["allowedBy"])
        elif stack_arns is not None and not _owned(request.resource, stack_arns):
            report.foreign.append(Denial(request, why[request]))
        else:
            report.denied.append(Denial(request, why[request]))
    for function in calls:
        sids = [str(s.get("Sid")) for p in policies.get(function, []) for s in _statements(p["policy"])]
        unused = [sid for sid in sids if sid not in used[function]]
        if unused:
            report.unused[function] = unused
    return report


def _statements(policy: dict[str, Any]) -> Iterable[dict[str, Any]]:
    statements = policy.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.checks.permissions", description=__doc__.splitlines()[0])
    parser.add_argument("calls_dir", type=Path, help="a run's logs/calls folder (one <LogicalId>.jsonl each)")
    parser.add_argument("--account-id", default="123456789012", help="the account the calls' ARNs belong to")
    options = parser.parse_args(argv)
    names = LocalNames(account_id=options.account_id)
    report = check_calls(read_calls(options.calls_dir), function_policies(names), names, stack_resource_arns(names))
    print(report.describe())
    sys.exit(1 if report.denied else 0)


if __name__ == "__main__":
    main()
