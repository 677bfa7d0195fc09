"""The context object Lambda's Python runtime passes a handler, for calling handlers in-process."""

import uuid
from dataclasses import dataclass, field


@dataclass
class FakeLambdaContext:
    """The attributes handlers and Powertools read; `remaining_ms` is what get_remaining_time_in_millis() says."""

    function_name: str = "photomod-local-TestFunction"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:photomod-local-TestFunction"
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "2026/11/26/[$LATEST]0123456789abcdef"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
