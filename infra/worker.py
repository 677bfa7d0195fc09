"""One Lambda execution environment: imports a handler once (the init phase), then serves invocations.

Started by the function host as `python -m infra.worker SPEC_JSON REPLY_FD`. Requests arrive on stdin and
replies leave on REPLY_FD, one JSON document per line, so whatever the handler prints on stdout/stderr
(its logs) never mixes with the protocol.
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


def main() -> None:
    spec = json.loads(sys.argv[1])
    replies = os.fdopen(int(sys.argv[2]), "w", buffering=1)
    sys.path[:0] = spec["code_paths"]
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
