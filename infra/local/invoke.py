"""`sam local invoke -e` without Docker: runs one function once with an event file, as the local host runs it.

    python -m infra.local.invoke UploadFunction events/create_upload.json     # what `make invoke` runs

The function gets what `make up` gives it: the template's environment (plus infra/local/env-vars.json), its own
built package and layers (zip functions), the AWS endpoint of the running local stack, and the recording of
its AWS calls for the permission check (`<run dir>/logs/calls/`). Its logs go to stderr between START and
REPORT lines, its result (or error) to stdout, as with `sam local invoke`.
"""

import argparse
import json
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.build.packages import package_functions
from infra.functions import EMULATOR_CREDENTIALS, LOCAL_ENV_VARS, function_specs
from infra.local.invoker import INIT_TIMEOUT_S, FunctionPool, Invocation
from infra.paths import REPO_ROOT
from infra.template import LocalNames, ResolvedTemplate, load_template, parameter_override

DEFAULT_ENDPOINT = LocalNames().endpoint_url  # `make up`'s emulator


class InvokeError(RuntimeError):
    pass


@dataclass
class InvokeResult:
    invocation: Invocation
    logs: str
    memory_mb: int


def _account_id(endpoint_url: str) -> str:
    try:
        sts = boto3.client(
            "sts",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        return str(sts.get_caller_identity()["Account"])
    except (BotoCoreError, ClientError) as error:
        raise InvokeError(
            f"no AWS endpoint answers at {endpoint_url} ({error}): start the local stack with `make up` "
            "(or pass ENDPOINT=... / --endpoint-url)"
        ) from None


def invoke(
    function: str,
    event: Any,
    *,
    endpoint_url: str = DEFAULT_ENDPOINT,
    run_dir: Path = REPO_ROOT / ".run",
    parameters: dict[str, str] | None = None,
    env_vars: Path | None = LOCAL_ENV_VARS,
    init_timeout_s: float = INIT_TIMEOUT_S,
) -> InvokeResult:
    """One cold invocation of `function` (a LogicalId of template.yaml) with `event`, as the local host runs it."""
    names = LocalNames(
        endpoint_url=endpoint_url, account_id=_account_id(endpoint_url), parameter_overrides=parameters or {}
    )
    template = ResolvedTemplate(load_template(), names)
    overrides = json.loads(env_vars.read_text()) if env_vars else {}
    specs = function_specs(template, {"AWS_ENDPOINT_URL": endpoint_url, **EMULATOR_CREDENTIALS}, overrides)
    if function not in specs:
        raise InvokeError(f"template.yaml has no function {function!r}; it has {', '.join(sorted(specs))}")
    spec = specs[function]
    package_functions({function: spec}, log=lambda line: print(line, file=sys.stderr))
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{function}.log"
    offset = log_file.stat().st_size if log_file.exists() else 0
    pool = FunctionPool(spec, max_concurrency=1, log_dir=log_dir, init_timeout_s=init_timeout_s)
    try:
        invocation = pool.invoke(event)
    finally:
        pool.close()
    with log_file.open() as handle:
        handle.seek(offset)
        logs = handle.read()
    return InvokeResult(invocation, logs, spec.memory_mb)


def _print(result: InvokeResult) -> None:
    request_id = str(uuid.uuid4())
    invocation = result.invocation
    init = f"\tInit Duration: {invocation.cold_start_ms:.2f} ms" if invocation.cold_start_ms is not None else ""
    print(f"START RequestId: {request_id} Version: $LATEST", file=sys.stderr)
    sys.stderr.write(result.logs)
    print(f"END RequestId: {request_id}", file=sys.stderr)
    print(
        f"REPORT RequestId: {request_id}\tDuration: {invocation.duration_ms:.2f} ms\t"
        f"Memory Size: {result.memory_mb} MB{init}",
        file=sys.stderr,
    )
    print(json.dumps(invocation.result if invocation.ok else invocation.error))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.local.invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function", help="the function's LogicalId in template.yaml, e.g. UploadFunction")
    parser.add_argument("event", type=Path, help="the event file, e.g. events/create_upload.json ('-': stdin)")
    parser.add_argument("--endpoint-url", default=os.environ.get("ENDPOINT") or DEFAULT_ENDPOINT)
    parser.add_argument("--run-dir", type=Path, default=REPO_ROOT / ".run", help="logs and call records (.run/)")
    parser.add_argument(
        "--parameter", action="append", type=parameter_override, help="template parameter override Name=Value"
    )
    parser.add_argument("--env-vars", type=Path, default=LOCAL_ENV_VARS)
    options = parser.parse_args(argv)
    text = sys.stdin.read() if str(options.event) == "-" else options.event.read_text()
    try:
        result = invoke(
            options.function,
            json.loads(text),
            endpoint_url=options.endpoint_url,
            run_dir=options.run_dir,
            parameters=dict(options.parameter or []),
            env_vars=options.env_vars,
        )
    except InvokeError as error:
        sys.exit(f"make invoke: {error}")
    _print(result)
    sys.exit(0 if result.invocation.ok else 1)


if __name__ == "__main__":
    main()
