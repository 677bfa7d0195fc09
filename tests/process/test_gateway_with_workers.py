"""infra.local.apigateway.RestApi in front of a real worker pool: what API Gateway answers when the function is slow,
no environment frees up in time, or the waiting queue is full."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from infra.functions import FunctionSpec
from infra.local.apigateway import RestApi, invoke_with
from infra.local.invoker import FunctionPool
from infra.rest_api import Route, api_settings
from infra.template import LocalNames, ResolvedTemplate, load_template
from tests.support.waiting import wait_for_file

WEB_ORIGIN = "http://localhost:8000"


@pytest.fixture(scope="module")
def template() -> ResolvedTemplate:
    return ResolvedTemplate(load_template(), LocalNames())


# --- no worker in time: 504; a full queue: 429 -----------------------------------------------------


def pool_backed_client(template, tmp_path, handler: str, integration_timeout_s: float, **pool_options: Any) -> Client:
    """The API in front of one real worker pool (tests/process/handlers), every route going to it."""
    spec = FunctionSpec(
        logical_id="UploadFunction",
        name="photomod-local-UploadFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:photomod-local-UploadFunction",
        handler=handler,
        code_paths=[str(Path(__file__).parent / "handlers")],
        environment={},
        timeout=30,
        memory_mb=256,
    )
    pool = FunctionPool(spec, 1, tmp_path, **pool_options)
    routes = [Route("/slow", "POST", "UploadFunction", False)]
    api = RestApi(
        api_settings(template, "Api"),
        routes,
        invoke_with({"UploadFunction": pool}, wait_s=integration_timeout_s),
        access_log=lambda line: None,
        integration_timeout_s=integration_timeout_s,
    )
    client = Client(api)
    client.pool = pool  # type: ignore[attr-defined]
    return client


def test_a_function_that_answers_too_late_is_504_when_api_gateway_gives_up(template, tmp_path):
    client = pool_backed_client(template, tmp_path, "proxy_handlers.slow", integration_timeout_s=1.0)
    try:
        started = time.monotonic()
        response = client.post("/slow", json={"seconds": 20})
        elapsed = time.monotonic() - started
    finally:
        client.pool.close()

    assert response.status_code == 504
    assert response.get_json() == {"message": "Endpoint request timed out"}
    assert elapsed < 10  # the gateway's limit, not the function's 20 s


@contextmanager
def one_environment_busy(client: Client, tmp_path: Path) -> Iterator[None]:
    """The pool's only environment is serving a 10 s request (it has said so) while the block runs."""
    started = tmp_path / "started"
    busy = threading.Thread(
        target=client.post, args=("/slow",), kwargs={"json": {"seconds": 10, "started_file": str(started)}}
    )
    try:
        busy.start()
        wait_for_file(started)
        yield
    finally:
        client.pool.close()
        busy.join(timeout=15)


def test_a_request_that_gets_no_worker_in_time_is_504(template, tmp_path):
    client = pool_backed_client(template, tmp_path, "proxy_handlers.slow", integration_timeout_s=2.0, max_waiting=4)
    with one_environment_busy(client, tmp_path):
        response = client.post("/slow", json={"seconds": 0})

    assert response.status_code == 504
    assert response.get_json() == {"message": "Endpoint request timed out"}


def test_a_request_beyond_the_waiting_queue_is_429_at_once(template, tmp_path):
    client = pool_backed_client(template, tmp_path, "proxy_handlers.slow", integration_timeout_s=20, max_waiting=0)
    with one_environment_busy(client, tmp_path):
        started = time.monotonic()
        response = client.post("/slow", json={"seconds": 0})
        elapsed = time.monotonic() - started

    assert response.status_code == 429
    assert response.get_json() == {"message": "Too Many Requests"}
    assert response.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert response.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN  # DEFAULT_4XX gateway response
    assert elapsed < 5
