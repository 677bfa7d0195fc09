"""One Lambda execution environment: imports a handler once (the init phase), then serves invocations.

Started by the function host as `python -I -S infra/local/worker.py SPEC_JSON REPLY_FD` for a built zip function
(sys.path: its package, its layers, the runtime's boto3; this file imports nothing else) or as
`python -m infra.local.worker ...` for an image run from .venv. Requests arrive on stdin and replies leave on
REPLY_FD, one JSON document per line, so whatever the handler prints on stdout/stderr (its logs) never mixes
with the protocol.

With `call_log` in the spec, every AWS call the handler makes through botocore (and every URL or POST form it
presigns) is appended to that file, one JSON line each, for the permission check (infra/checks/permissions.py).
"""

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class LambdaContext:
    """The attributes of the context object the Python runtime passes to handlers."""

    def __init__(self, spec: dict[str, Any], request_id: str, deadline_ms: int):
        self.function_name = spec["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec["function_arn"]
        self.memory_limit_in_mb = int(spec["memory_mb"])
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorType": error_type or type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error),
    }


# The request parameters that name what a call touches (bucket, key, table, index, queue).
# Name: an SSM parameter's (the shop's policy).
_RESOURCE_PARAMETERS = ("Bucket", "Key", "VersionId", "Prefix", "TableName", "IndexName", "QueueUrl", "Name")


class CallRecorder:
    """Appends each AWS call to a JSON-lines file, from botocore's event hooks on every session."""

    def __init__(self, path: str):
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 - open for the life of the environment

    def install(self) -> None:
        try:
            import botocore.session
        except ImportError:  # a function without boto3 makes no AWS calls
            return
        original_init = botocore.session.Session.__init__
        recorder = self

        def init(session: Any, *args: Any, **kwargs: Any) -> None:
            original_init(session, *args, **kwargs)
            session.register("before-parameter-build", recorder._before_call)
            session.register("after-call", recorder._after_call)
            session.register("before-sign", recorder._before_sign)

        botocore.session.Session.__init__ = init  # type: ignore[method-assign]

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, default=str) + "\n")

    @staticmethod
    def _call(model: Any, params: dict[str, Any]) -> dict[str, Any]:
        resources = {name: params[name] for name in _RESOURCE_PARAMETERS if isinstance(params.get(name), str)}
        if isinstance(params.get("RequestItems"), dict):  # BatchGetItem / BatchWriteItem: one entry per table
            resources["TableNames"] = sorted(params["RequestItems"])
        if isinstance(params.get("Entries"), list):  # PutEvents: the buses its entries go to
            buses = {entry.get("EventBusName") or "default" for entry in params["Entries"] if isinstance(entry, dict)}
            resources["EventBusNames"] = sorted(buses)
        return {"service": model.service_model.signing_name, "operation": model.name, "params": resources}

    def _before_call(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        try:
            context["photomod_call"] = self._call(model, params)
        except Exception as error:  # recording must never break the function
            print(f"[call recorder] {error!r}", file=sys.stderr)

    def _after_call(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call = context.get("photomod_call")
        if call is not None:
            error = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None
            self._write({**call, "status": getattr(http_response, "status_code", None), "error": error})

    def _before_sign(self, request: Any, **_: Any) -> None:
        """A presigned URL or POST form is signed now and used later, by someone else, with this role's rights."""
        context = request.context
        if not context.get("is_presign_request"):  # an ordinary call: recorded with its answer by _after_call
            return
        policy = context.get("s3-presign-post-policy")
        if policy is None:  # generate_presigned_url
            if context.get("photomod_call") is not None:
                self._write({**context["photomod_call"], "presigned": "url"})
            return
        # generate_presigned_post builds its request from CreateBucket's model: what it allows is a PutObject.
        fields = context.get("s3-presign-post-fields", {})
        bucket = next((c["bucket"] for c in policy["conditions"] if isinstance(c, dict) and "bucket" in c), None)
        call = {"service": "s3", "operation": "PutObject", "params": {"Bucket": bucket, "Key": fields.get("key")}}
        self._write({**call, "presigned": "post"})


def main() -> None:
    spec = json.loads(sys.argv[1])
    replies = os.fdopen(int(sys.argv[2]), "w", buffering=1)
    sys.path[:0] = spec["code_paths"]
    if spec.get("call_log"):
        CallRecorder(spec["call_log"]).install()
    module_name, handler_name = spec["handler"].rsplit(".", 1)
    started = time.monotonic()
    try:
        handler = getattr(importlib.import_module(module_name), handler_name)
    except BaseException as error:  # an init failure is reported, as Lambda does, then the environment dies
        replies.write(json.dumps({"ready": False, "error": _error(error, "Runtime.ImportModuleError")}) + "\n")
        return
    replies.write(json.dumps({"ready": True, "init_ms": round((time.monotonic() - started) * 1000)}) + "\n")

    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(spec, request["request_id"], request["deadline_ms"])
        os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"
        try:
            reply = {"ok": True, "result": handler(request["event"], context)}
            json.dumps(reply)  # a result Lambda could not serialise is an error there too
        except Exception as error:
            reply = {"ok": False, "error": _error(error)}
        sys.stdout.flush()
        sys.stderr.flush()
        replies.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()
