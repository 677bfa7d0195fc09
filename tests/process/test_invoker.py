"""The local function host's execution environments: real worker processes, as Lambda runs them."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from infra.functions import FunctionSpec
from infra.local.invoker import FunctionPool, Invocation, Throttled, WaitTimedOut, _Worker
from infra.local.memory import MemoryLimits
from tests.support.waiting import wait_for_file, wait_until

HANDLERS = str(Path(__file__).parent / "handlers")


def pool_for(
    handler: str,
    tmp_path: Path,
    timeout: int = 5,
    concurrency: int = 1,
    environment: dict[str, str] | None = None,
    memory_mb: int = 128,
    **options,
) -> FunctionPool:
    spec = FunctionSpec(
        logical_id="SampleFunction",
        name="photomod-local-SampleFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:photomod-local-SampleFunction",
        handler=handler,
        code_paths=[HANDLERS],
        environment={"SAMPLE": "1", **(environment or {})},
        timeout=timeout,
        memory_mb=memory_mb,
    )
    return FunctionPool(spec, concurrency, tmp_path, **options)


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
    pool = pool_for("sample_handlers.sleep_after_signal", tmp_path, timeout=60)
    started = tmp_path / "started"
    results = []
    busy = threading.Thread(target=lambda: results.append(pool.invoke({"seconds": 60, "started_file": str(started)})))
    busy.start()
    wait_for_file(started)  # the worker has started and taken the request

    pool.close()
    busy.join(timeout=10)

    assert not busy.is_alive()
    assert results and not results[0].ok


def test_concurrent_requests_get_separate_environments(tmp_path):
    pool = pool_for("sample_handlers.hold_until_released", tmp_path, timeout=90, concurrency=2)
    release = tmp_path / "release"
    results: list[Invocation] = []

    def request(number: int) -> None:
        event = {"started_file": str(tmp_path / f"started-{number}"), "release_file": str(release)}
        results.append(pool.invoke(event))

    threads = [threading.Thread(target=request, args=(number,)) for number in range(2)]
    try:
        for thread in threads:
            thread.start()
        # Both run at once: each says it has started while neither has been let go.
        pids = {wait_for_file(tmp_path / f"started-{number}") for number in range(2)}
    finally:
        release.touch()
        for thread in threads:
            thread.join(timeout=30)
        pool.close()

    assert len(pids) == 2
    assert len(results) == 2 and all(result.ok for result in results), results
    assert {str(result.result) for result in results} == pids


def test_closing_while_an_environment_starts_stops_it_and_keeps_it_out_of_the_pool(tmp_path):
    # Given: a worker process that has been started but not yet registered when close() runs
    pool = pool_for("sample_handlers.echo", tmp_path)
    process_started, close_done = threading.Event(), threading.Event()
    workers: list[_Worker] = []

    def start_worker_then_wait_for_close() -> _Worker:
        worker = _Worker(pool.spec, pool._log)
        workers.append(worker)
        process_started.set()
        close_done.wait(30)
        return worker

    pool._new_worker = start_worker_then_wait_for_close
    outcome = []
    request = threading.Thread(target=lambda: outcome.append(pool.invoke({})))
    request.start()
    assert process_started.wait(30)

    # When: the pool closes in that window
    pool.close()
    close_done.set()
    request.join(timeout=30)

    # Then: the request fails, the late worker is stopped and nothing is left in the pool
    assert outcome and not outcome[0].ok
    assert workers[0].process.poll() is not None
    assert not pool._live and not pool._idle


def test_an_idle_environment_that_died_is_replaced(tmp_path):
    pool = pool_for("sample_handlers.pid", tmp_path)
    try:
        first = pool.invoke({})
        os.kill(first.result, signal.SIGKILL)
        pool._idle[0].process.wait(timeout=10)  # the pool's child: reaped here, so it is seen dead

        second = pool.invoke({})
    finally:
        pool.close()

    assert second.ok, second.error
    assert second.result != first.result
    assert second.cold_start_ms is not None


def test_a_slow_init_is_retried_once_within_the_function_timeout(tmp_path):
    # Lambda: init gets 10 s (here 1 s); past it, init runs again at the first invocation within its timeout.
    pool = pool_for(
        "slow_init_handler.handler", tmp_path, timeout=6, environment={"INIT_SECONDS": "2"}, init_timeout_s=1
    )
    try:
        invocation = pool.invoke({})
    finally:
        pool.close()

    assert invocation.ok, invocation.error
    # The second init (about 2 s) came out of the invocation's 6 s.
    assert invocation.result["remaining_ms"] <= 4_500
    assert "trying once more within the function timeout" in (tmp_path / "SampleFunction.log").read_text()


def test_an_init_that_never_finishes_times_out_instead_of_hanging(tmp_path):
    pool = pool_for(
        "slow_init_handler.handler", tmp_path, timeout=2, environment={"INIT_SECONDS": "300"}, init_timeout_s=1
    )
    try:
        started = time.monotonic()
        invocation = pool.invoke({})
        elapsed = time.monotonic() - started
    finally:
        pool.close()

    assert not invocation.ok
    assert invocation.error["errorType"] == "Sandbox.Timedout"
    assert elapsed < 20  # 1 s + 2 s, with room for a loaded machine; without the limit: 300 s
    assert not pool._live


def test_a_prewarm_whose_init_is_too_slow_leaves_the_first_request_to_start_one(tmp_path):
    pool = pool_for("slow_init_handler.handler", tmp_path, environment={"INIT_SECONDS": "300"}, init_timeout_s=1)
    try:
        assert pool.prewarm() is None
        assert pool._count == 0 and not pool._live
    finally:
        pool.close()


def test_a_full_queue_of_waiting_requests_is_throttled_at_once(tmp_path):
    pool = pool_for("sample_handlers.sleep_after_signal", tmp_path, timeout=30, max_waiting=0)
    started = tmp_path / "started"
    busy = threading.Thread(target=pool.invoke, args=({"seconds": 30, "started_file": str(started)},))
    busy.start()
    try:
        wait_for_file(started)
        began = time.monotonic()
        with pytest.raises(Throttled):
            pool.invoke({"seconds": 0, "started_file": str(tmp_path / "other")}, wait_s=20)
        assert time.monotonic() - began < 5  # refused, not queued
    finally:
        pool.close()
        busy.join(timeout=10)


def test_a_request_that_gets_no_environment_in_time_gives_up(tmp_path):
    pool = pool_for("sample_handlers.sleep_after_signal", tmp_path, timeout=30, max_waiting=4)
    started = tmp_path / "started"
    busy = threading.Thread(target=pool.invoke, args=({"seconds": 30, "started_file": str(started)},))
    busy.start()
    try:
        wait_for_file(started)
        began = time.monotonic()
        with pytest.raises(WaitTimedOut):
            pool.invoke({"seconds": 0, "started_file": str(tmp_path / "other")}, wait_s=0.5)
        assert 0.4 < time.monotonic() - began < 10
    finally:
        pool.close()
        busy.join(timeout=10)


def test_a_waiting_request_gets_the_environment_that_frees_up(tmp_path):
    pool = pool_for("sample_handlers.hold_until_released", tmp_path, timeout=90, max_waiting=4)
    release = tmp_path / "release"
    results: list[Invocation] = []

    def request(name: str) -> None:
        results.append(pool.invoke({"started_file": str(tmp_path / name), "release_file": str(release)}, wait_s=60))

    busy, waiting = (
        threading.Thread(target=request, args=("first",)),
        threading.Thread(target=request, args=("second",)),
    )
    try:
        busy.start()
        first_pid = wait_for_file(tmp_path / "first")
        waiting.start()
        wait_until(lambda: pool._waiting == 1, timeout_s=30, what="the second request to wait", interval_s=0.01)
        assert not (tmp_path / "second").exists()  # it waits: the only environment is busy

        release.touch()
        busy.join(timeout=30)
        waiting.join(timeout=30)
    finally:
        release.touch()
        pool.close()

    assert len(results) == 2 and all(result.ok for result in results), results
    assert (tmp_path / "second").read_text() == first_pid  # served by the environment that freed up


# --- MemorySize -------------------------------------------------------------------------------------

MEMORY_MODES = ["rss"] + (["cgroup"] if MemoryLimits("auto").parent is not None else [])


@pytest.mark.parametrize("mode", MEMORY_MODES)
def test_a_worker_that_allocates_past_its_memory_size_ends_out_of_memory_and_is_replaced(tmp_path, mode):
    limits = MemoryLimits(mode)
    pool = pool_for("sample_handlers.allocate", tmp_path, memory_mb=128, memory_guard=limits.guard)
    try:
        fits = pool.invoke({"mb": 16})
        too_much = pool.invoke({"mb": 512})
        after = pool.invoke({"mb": 16})
    finally:
        pool.close()

    assert fits.ok, fits.error
    assert not too_much.ok
    assert too_much.error["errorType"] == "Runtime.OutOfMemory"
    assert "signal: killed" in too_much.error["errorMessage"]
    assert after.ok and after.cold_start_ms is not None  # a new environment


def test_memory_is_enforced_by_a_cgroup_where_one_is_writable():
    limits = MemoryLimits("auto")
    if limits.parent is None:
        pytest.skip("no writable memory cgroup on this host (needs root and a mounted memory controller)")
    assert limits.mode.startswith("cgroup")
    guard = limits.guard(128)
    try:
        assert (
            guard.group / ("memory.limit_in_bytes" if limits.version == 1 else "memory.max")
        ).read_text().strip() == str(128 * 1024 * 1024)
    finally:
        guard.release()
    assert not guard.group.exists()
