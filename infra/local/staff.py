"""Staff accounts in the local stack's Cognito user pool (moto), as an administrator makes them on AWS.

    python -m infra.local.staff NAME GROUP     # what `make user NAME= GROUP=` runs against a running `make up`

An account gets a random password meeting the pool's policy, set as permanent (an administrator's
`admin-set-user-password --permanent`), and joins the group. On AWS the same is done with the AWS CLI
(docs/deploy.md#staff), where Cognito mails a temporary password instead.
"""

import argparse
import contextlib
import json
import secrets
import string
import sys
from pathlib import Path
from typing import Any

import boto3

from infra.functions import EMULATOR_CREDENTIALS
from infra.paths import REPO_ROOT

# `make up` creates one of each, with a new password at every start (printed in its banner).
DEFAULT_STAFF = (("moderator", "moderators"), ("analyst", "analysts"))


def new_password(length: int = 20) -> str:
    """Random, with a lower-case letter, an upper-case letter and a digit (the pool's policy needs all three)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


def add_staff(cognito: Any, user_pool_id: str, username: str, groups: list[str], password: str | None = None) -> str:
    """Creates (or keeps) the account, sets a new permanent password, adds it to `groups`; returns the password."""
    known = {
        group["GroupName"]
        for page in cognito.get_paginator("list_groups").paginate(UserPoolId=user_pool_id)
        for group in page["Groups"]
    }
    unknown = sorted(set(groups) - known)
    if unknown:
        raise ValueError(f"no such group: {', '.join(unknown)} (the pool has {', '.join(sorted(known))})")
    with contextlib.suppress(cognito.exceptions.UsernameExistsException):
        cognito.admin_create_user(UserPoolId=user_pool_id, Username=username, MessageAction="SUPPRESS")
    password = password or new_password()
    cognito.admin_set_user_password(UserPoolId=user_pool_id, Username=username, Password=password, Permanent=True)
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=user_pool_id, Username=username, GroupName=group)
    return password


def _outputs(run_dir: Path) -> dict[str, str]:
    path = run_dir / "outputs.json"
    if not path.exists():
        raise SystemExit(f"no local stack is running ({path} is missing): start it with `make up`")
    return {output["OutputKey"]: output["OutputValue"] for output in json.loads(path.read_text())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.local.staff", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the user name staff sign in with")
    parser.add_argument("group", help="moderators or analysts (comma-separated for both)")
    parser.add_argument("--run-dir", default=str(REPO_ROOT / ".run"))
    options = parser.parse_args(argv)
    if not options.name.strip():
        raise SystemExit("NAME is empty: make user NAME=<user name> GROUP=moderators|analysts")
    outputs = _outputs(Path(options.run_dir))
    endpoint = outputs.get("AwsEndpointUrlCognitoIdp") or outputs["AwsEndpointUrl"]
    cognito = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="us-east-1", **_credentials())
    groups = [group.strip() for group in options.group.split(",") if group.strip()]
    try:
        password = add_staff(cognito, outputs["StaffUserPoolId"], options.name.strip(), groups)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    print(f"{options.name} ({', '.join(groups)}): password {password}")


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


if __name__ == "__main__":
    main(sys.argv[1:])
