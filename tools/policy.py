"""`make policy FILE=...`: put a shop's own moderation policy, validated, where the classifier reads it.

    python -m tools policy my-policy.json                   # the stack of `make up` (.run/outputs.json)
    python -m tools policy my-policy.json --stack photomod  # a deployed stack (its CloudFormation outputs)
    python -m tools policy my-policy.json --check           # validate only
    python -m tools policy --remove                          # back to the built-in policy

The document is checked exactly as the classifier reads it (classify.policy.parse_document: known keys, ImageNet
classes by wnid with their labels, actions, thresholds, at most 8 KB) and refused with the reason otherwise; a
document whose `version` is the one already put, with other content, is refused too: every verdict records the
version that produced it, so a version must name one document. Photos are judged by it within the stack's
PolicyCacheSeconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import boto3

from infra.functions import EMULATOR_CREDENTIALS
from infra.paths import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]

from classify.labels import ClassIndex  # noqa: E402
from classify.policy import PolicyError, parse_document  # noqa: E402

# SSM's standard tier holds 4 KB; above that the parameter must be advanced (8 KB, charged per month).
STANDARD_TIER_BYTES = 4096


class Refused(Exception):
    """The document may not be put; the message says why."""


def compact(text: str) -> str:
    """The document as stored: the same JSON without its layout (more of it fits the parameter)."""
    try:
        return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return text  # parse_document says why


def validate(text: str) -> str:
    """The version of a valid document; Refused with the reason otherwise."""
    try:
        return parse_document(compact(text), ClassIndex.from_file()).version
    except PolicyError as error:
        raise Refused(f"invalid policy: {error}") from None


def stack_outputs(run_dir: Path, stack: str | None) -> tuple[dict[str, str], Any]:
    """The stack's outputs and a boto3 session that reaches it."""
    if stack:
        session = boto3.Session()
        described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}, session
    outputs_file = run_dir / "outputs.json"
    if not outputs_file.is_file():
        raise Refused(f"no {outputs_file}: start the local stack (`make up`) or name a deployed one with --stack")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in json.loads(outputs_file.read_text())}
    # The local emulators accept any credentials; never the developer's real ones.
    credentials = {key.lower(): value for key, value in EMULATOR_CREDENTIALS.items()}
    session = boto3.Session(**credentials, region_name="us-east-1")
    return outputs, session


def put_policy(text: str, ssm: Any, name: str) -> str:
    """Validates and puts the document; returns its version."""
    version = validate(text)
    stored = compact(text)
    try:
        current = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        current = None
    if current is not None and current != stored and json.loads(current).get("version") == version:
        raise Refused(f"version {version!r} is already put with other content: give the new document a new version")
    tier = "Standard" if len(stored.encode()) <= STANDARD_TIER_BYTES else "Advanced"
    ssm.put_parameter(Name=name, Value=stored, Type="String", Tier=tier, Overwrite=True)
    return version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools policy", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", type=Path, help="the policy document (JSON)")
    parser.add_argument("--run-dir", type=Path, default=REPO_ROOT / ".run", help="the local stack's run folder")
    parser.add_argument("--stack", help="a deployed CloudFormation stack instead of the local one")
    parser.add_argument("--check", action="store_true", help="validate only; put nothing")
    parser.add_argument("--remove", action="store_true", help="remove the shop's policy: the built-in one applies")
    options = parser.parse_args(argv)
    if not options.remove and options.file is None:
        parser.error("give the policy FILE (or --remove)")
    try:
        if options.remove:
            outputs, session = stack_outputs(options.run_dir, options.stack)
            ssm = _ssm(session, outputs)
            with contextlib.suppress(ssm.exceptions.ParameterNotFound):
                ssm.delete_parameter(Name=outputs["PolicyParameterName"])
            print("removed the shop's policy: the built-in policy applies again")
            return 0
        text = options.file.read_text(encoding="utf-8")
        if options.check:
            print(f"{options.file}: valid, version {validate(text)}")
            return 0
        outputs, session = stack_outputs(options.run_dir, options.stack)
        version = put_policy(text, _ssm(session, outputs), outputs["PolicyParameterName"])
    except (Refused, OSError, UnicodeDecodeError) as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    print(f"put policy {version} in {outputs['PolicyParameterName']}; it judges photos within PolicyCacheSeconds")
    return 0


def _ssm(session: Any, outputs: dict[str, str]) -> Any:
    if "PolicyParameterName" not in outputs:
        raise Refused("the stack has no PolicyParameterName output (deployed before shop policies existed?)")
    return session.client("ssm", endpoint_url=outputs.get("AwsEndpointUrl"))
