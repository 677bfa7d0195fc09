"""The one dependency factory of the functions: boto3 clients and DynamoDB tables, each built once, on first use.

No endpoint in code: boto3 reads AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself, so the same code runs
on AWS, LocalStack and the embedded emulator. The only endpoint a caller may name is the public one a browser must
reach for a presigned URL (PRESIGN_ENDPOINT_URL). Each handler module makes its own `AwsClients()`, so importing a
handler (for the OpenAPI document, or a test's fresh cold start) builds nothing, and a new import starts afresh.
"""

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import boto3
from botocore.config import Config

T = TypeVar("T")

# Presigned POSTs and GETs are signed with SigV4 (what S3 requires in every region opened since 2014).
_S3_CONFIG = Config(signature_version="s3v4")


class AwsClients:
    """One client per service (and presigning endpoint), one resource per table name, built when first asked."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._tables: dict[str, Any] = {}

    def client(self, service_name: str, *, endpoint_url: str | None = None) -> Any:
        """`endpoint_url` only for presigning, where the browser reaches S3 at another address than we do."""
        key = (service_name, endpoint_url)
        if key not in self._clients:
            config = _S3_CONFIG if service_name == "s3" else None
            self._clients[key] = boto3.client(service_name, config=config, endpoint_url=endpoint_url)
        return self._clients[key]

    def table(self, name: str) -> Any:
        if name not in self._tables:
            self._tables[name] = boto3.resource("dynamodb").Table(name)
        return self._tables[name]


def lazy(build: Callable[[], T]) -> Callable[[], T]:
    """`build()`, called on the first call only: a handler's adapter, built on its first request and then kept for
    the execution environment's life."""
    return cache(build)
