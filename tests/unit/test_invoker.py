"""The local function host's execution environments: real worker processes, as Lambda runs them."""

import threading
import time
from pathlib import Path

from infra.functions import FunctionSpec
from infra.invoker import FunctionPool

HANDLERS = str(Path(__file__).parent / "handlers")


def pool_for(handler: str, tmp_path: Path, timeout: int = 5, concurrency: int = 1) -> FunctionPool:
    spec = FunctionSpec(
        logical_id="SampleFunction",
        name="photomod-local-SampleFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:photomod-local-SampleFunction",
        handler=handler,
        code_paths=[HANDLERS],
        environment={"SAMPLE": "1"},
        timeout=timeout,
        memory_mb=128,
    )
    return FunctionPool(spec, concurrency, tmp_path)


def test_an_invocation_gets_the_event_and_a_lambda_context(tmp_path):
    pool = pool_for("sample_handlers.echo", tmp_path)
    try:
        invocation = pool.invoke({"hello": "world"})
    finally:
        pool.close()

    assert invocation.ok, invocation.error
    assert invocation.result["event"] == {"hello": "world"}
    assert invocation.result["function"] == "photomod-local-SampleFunction"
    assert 0 < invocation.result["remaining_ms"] <= 5000
    assert invocation.cold_start_ms is not None


def test_a_warm_environment_is_reused(tmp_path):
    pool = pool_for("sample_handlers.pid", tmp_path)
    try:
        first, second = pool.invoke({}), pool.invoke({})
    finally:
        pool.close()

    assert first.result == second.result
    assert second.cold_start_ms is None


def test_a_timed_out_environment_is_discarded_and_the_next_request_gets_a_new_one(tmp_path):
    pool = pool_for("sample_handlers.sleep", tmp_path, timeout=1)
    try:
        started = time.monotonic()
        timed_out = pool.invoke({"seconds": 30})
        elapsed = time.monotonic() - started
        after = pool.invoke({"seconds": 0})
    finally:
        pool.close()

    assert not timed_out.ok
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    assert elapsed < 10
    assert after.ok and after.cold_start_ms is not None


def test_a_crashing_handler_is_reported_and_the_pool_recovers(tmp_path):
    pool = pool_for("sample_handlers.crash", tmp_path)
    try:
        crashed = pool.invoke({})
    finally:
        pool.close()

    assert not crashed.ok
    assert crashed.error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in crashed.error["errorMessage"]


def test_a_handler_exception_is_a_function_error_and_the_environment_stays(tmp_path):
    pool = pool_for("sample_handlers.fail", tmp_path)
    try:
        failed = pool.invoke({})
        again = pool.invoke({})
    finally:
        pool.close()

    assert not failed.ok
    assert failed.error["errorType"] == "ValueError"
    assert failed.error["errorMessage"] == "bad event"
    assert again.cold_start_ms is None


def test_an_init_failure_is_reported_as_such(tmp_path):
    pool = pool_for("broken_handler.handler", tmp_path)
    try:
        invocation = pool.invoke({})
    finally:
        pool.close()

    assert not invocation.ok
    assert invocation.error["errorType"] == "Runtime.InitError"
    assert "fails at import" in invocation.error["errorMessage"]


def test_closing_the_pool_stops_busy_environments_too(tmp_path):
    pool = pool_for("sample_handlers.sleep", tmp_path, timeout=60)
    results = []
    busy = threading.Thread(target=lambda: results.append(pool.invoke({"seconds": 60})))
    busy.start()
    time.sleep(2)  # the worker starts and takes the request

    pool.close()
    busy.join(timeout=10)

    assert not busy.is_alive()
    assert results and not results[0].ok


def test_concurrent_requests_get_separate_environments(tmp_path):
    concurrency = 2
    pool = pool_for("sample_handlers.sleep", tmp_path, concurrency=concurrency)
    try:
        pool.prewarm()
        started = time.monotonic()
        threads = [threading.Thread(target=pool.invoke, args=({"seconds": 2},)) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        pool.close()

    assert elapsed < 3.5  # two 2 s requests side by side; one after the other would take 4 s
