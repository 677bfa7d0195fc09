"""`python -m tools export`: an analyst signs in and downloads the feedback export as one CSV file.

    make export USER=analyst OUT=feedback.csv          # asks for the password (or PHOTOMOD_PASSWORD)

Signs in to the staff user pool with USER_PASSWORD_AUTH (the pages' app client), then follows GET
/feedback.csv page by page (X-Next-Cursor), writing the header row once. Locally the stack's outputs
(.run/outputs.json) say where the API and Cognito are; for a deployed stack pass --stack NAME.
"""

import argparse
import csv
import getpass
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
import requests

from infra.functions import EMULATOR_CREDENTIALS
from infra.paths import REPO_ROOT

TIMEOUT_S = 60


def _outputs(args: argparse.Namespace) -> tuple[dict[str, str], Any]:
    if args.stack:
        session = boto3.Session()
        stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
        return outputs, session.client("cognito-idp")
    path = Path(args.run_dir) / "outputs.json"
    if not path.exists():
        raise SystemExit(f"no local stack is running ({path} is missing): start it with `make up`, or pass --stack")
    outputs = {item["OutputKey"]: item["OutputValue"] for item in json.loads(path.read_text())}
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=outputs.get("AwsEndpointUrlCognitoIdp") or outputs["StaffCognitoEndpoint"],
        region_name="us-east-1",
        aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return outputs, cognito


def sign_in(cognito: Any, client_id: str, username: str, password: str) -> str:
    try:
        reply = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
    except cognito.exceptions.NotAuthorizedException:
        raise SystemExit("the user name or password is not right") from None
    if "AuthenticationResult" not in reply:
        raise SystemExit(f"the account needs {reply.get('ChallengeName')} first: ask an administrator")
    return reply["AuthenticationResult"]["IdToken"]


def download(api_url: str, token: str, out: Any, page_size: int = 1000) -> int:
    """Writes every page into `out` (header once); returns the number of rows."""
    cursor: str | None = None
    rows = 0
    writer = csv.writer(out)
    while True:
        params: dict[str, Any] = {"limit": page_size, **({"cursor": cursor} if cursor else {})}
        reply = requests.get(
            f"{api_url}/feedback.csv", params=params, headers={"Authorization": token}, timeout=TIMEOUT_S
        )
        if reply.status_code in (401, 403):
            body = reply.json()
            reason = body.get("message") or body.get("error", {}).get("message")
            raise SystemExit(f"the export was refused ({reply.status_code}): {reason}")
        reply.raise_for_status()
        page = list(csv.reader(io.StringIO(reply.text, newline="")))
        for row in page[1:] if rows or cursor else page:
            writer.writerow(row)
        rows += len(page) - 1
        cursor = reply.headers.get("X-Next-Cursor")
        if not cursor:
            return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools export", description=__doc__.splitlines()[0])
    parser.add_argument("--user", required=True, help="an analyst's user name")
    parser.add_argument("--out", default="feedback.csv", help="the CSV file to write (- for stdout)")
    parser.add_argument("--stack", help="a deployed stack's name (default: the local stack)")
    parser.add_argument("--run-dir", default=str(REPO_ROOT / ".run"))
    args = parser.parse_args(argv)
    outputs, cognito = _outputs(args)
    password = os.environ.get("PHOTOMOD_PASSWORD") or getpass.getpass(f"password for {args.user}: ")
    token = sign_in(cognito, outputs["StaffUserPoolClientId"], args.user, password)
    if args.out == "-":
        rows = download(outputs["ApiUrl"].rstrip("/"), token, sys.stdout)
    else:
        with open(args.out, "w", newline="", encoding="utf-8") as out:
            rows = download(outputs["ApiUrl"].rstrip("/"), token, out)
    print(f"{rows} rows -> {args.out}", file=sys.stderr)
    return 0
