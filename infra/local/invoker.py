"""Execution environments for one function: a pool of worker processes, each serving one request at a time.

Like Lambda, an environment is reused while it stays healthy; one that times out or crashes is discarded
and the next request gets a fresh one (a cold start).
"""

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from infra.functions import FunctionSpec
from infra.local.memory import MemoryGuard, NoGuard
from infra.paths import REPO_ROOT

WORKER_SCRIPT = Path(__file__).with_name("worker.py")


def worker_command(spec: FunctionSpec, reply_fd: int, call_log: Path | None = None) -> list[str]:
    """The command line of one execution environment (worker.py), recording AWS calls to `call_log`."""
    worker_spec = {
        "function_name": spec.name,
        "function_arn": spec.arn,
        "memory_mb": spec.memory_mb,
        "handler": spec.handler,
        "code_paths": spec.runtime.paths if spec.runtime else spec.code_paths,
        "call_log": str(call_log) if call_log else None,
    }
    if spec.runtime:
        # -I -S: no site-packages, no PYTHON* variables, not even the script's folder on sys.path; the
        # worker puts exactly the package, its layers and the runtime's boto3 there.
        return [spec.runtime.python, "-I", "-S", str(WORKER_SCRIPT), json.dumps(worker_spec), str(reply_fd)]
    # A container-image function (the classifier) runs from .venv: TensorFlow is too large to build twice.
    return [sys.executable, "-m", "infra.local.worker", json.dumps(worker_spec), str(reply_fd)]


@dataclass
class Invocation:
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    cold_start_ms: float | None = None


# Lambda's own limit on the init phase; a longer init is tried once more within the function's timeout.
INIT_TIMEOUT_S = 10.0


class WorkerDied(RuntimeError):
    pass


class OutOfMemory(WorkerDied):
    pass


class InitTimedOut(RuntimeError):
    pass


class NoEnvironment(RuntimeError):
    """No execution environment could take the request (the caller decides what its client sees)."""


class Throttled(NoEnvironment):
    """Every environment is busy and the queue of waiting requests is full."""


class WaitTimedOut(NoEnvironment):
    """No environment became free within the caller's wait."""


class _Worker:
    def __init__(
        self, spec: FunctionSpec, log: TextIO, memory: MemoryGuard | None = None, call_log: Path | None = None
    ):
        self.memory = memory or NoGuard()
        read_fd, write_fd = os.pipe()
        environment = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **spec.environment}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            worker_command(spec, write_fd, call_log),
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            cwd=REPO_ROOT,
            env=environment,
            text=True,
            # No PR_SET_PDEATHSIG here: it fires when the forking *thread* ends. A worker ends instead when
            # its stdin closes, which happens however the host ends.
        )
        os.close(write_fd)
        self._replies = os.fdopen(read_fd, "r")
        self.started = time.monotonic()
        self.init_ms: float | None = None
        self.retried_init_s = 0.0  # time a second init took out of the first invocation's timeout
        try:
            self.memory.attach(self.process.pid)
        except OSError:
            self.stop()
            raise

    def alive(self) -> bool:
        return self.process.poll() is None

    def _read_reply(self, timeout: float | None) -> dict[str, Any]:
        try:
            ready, _, _ = select.select([self._replies], [], [], timeout)
            line = self._replies.readline() if ready else None
        except (ValueError, OSError):  # stopped by the host while this request waited: it is shutting down
            raise WorkerDied("Runtime stopped by the function host") from None
        if line is None:
            raise TimeoutError
        if not line:
            code = self.process.wait()
            if self.memory.exceeded():
                raise OutOfMemory("Runtime exited with error: signal: killed")
            if code < 0:
                raise WorkerDied(f"Runtime exited with error: signal: {_signal_name(-code)}")
            raise WorkerDied(f"Runtime exited with error: exit status {code}")
        return json.loads(line)

    def wait_ready(self, timeout: float | None = None) -> None:
        reply = self._read_reply(timeout=timeout)
        if not reply.get("ready"):
            raise WorkerDied(json.dumps(reply.get("error")))
        self.init_ms = reply.get("init_ms")

    def invoke(self, event: Any, timeout_s: float) -> dict[str, Any]:
        deadline_ms = int((time.time() + timeout_s) * 1000)
        request = {"request_id": str(uuid.uuid4()), "event": event, "deadline_ms": deadline_ms}
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise WorkerDied("Runtime exited before the invocation") from None
        return self._read_reply(timeout=timeout_s)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._replies.close()
        self.memory.release()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name.removeprefix("SIG").lower()
    except ValueError:
        return str(number)


def _failure(error_type: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"errorType": error_type, "errorMessage": message}}


class FunctionPool:
    """Up to `max_concurrency` environments of one function.

    `max_waiting` bounds the requests that may wait for a busy pool (None: no bound); past it a request is
    refused at once with Throttled, as Lambda refuses invocations beyond its concurrency.
    """

    def __init__(
        self,
        spec: FunctionSpec,
        max_concurrency: int,
        log_dir: Path,
        *,
        max_waiting: int | None = None,
        init_timeout_s: float = INIT_TIMEOUT_S,
        memory_guard: Callable[[int], MemoryGuard] | None = None,
    ):
        self.spec = spec
        self.max_concurrency = max_concurrency
        self.max_waiting = max_waiting
        self.init_timeout_s = init_timeout_s
        self._memory_guard = memory_guard or (lambda _limit_mb: NoGuard())
        self._log = (log_dir / f"{spec.logical_id}.log").open("a", buffering=1)
        # Every AWS call the function makes, for the permission check against its policy (infra/checks/permissions.py).
        self.call_log = log_dir / "calls" / f"{spec.logical_id}.jsonl"
        self.call_log.parent.mkdir(exist_ok=True)
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()  # idle and busy: all of them are stopped on close
        self._count = 0
        self._waiting = 0
        self._lock = threading.Condition()
        self._closed = False
        self._new_worker: Callable[[], _Worker] = lambda: _Worker(
            self.spec, self._log, self._memory_guard(self.spec.memory_mb), self.call_log
        )

    def _note(self, message: str) -> None:
        with contextlib.suppress(ValueError):  # the pool was closed meanwhile
            self._log.write(f"[function host] {message}\n")

    def prewarm(self) -> float | None:
        """Starts one environment ahead of the first request; its init time in ms (None: init failed)."""
        try:
            worker = self._acquire(init_retry=False)
        except (WorkerDied, InitTimedOut) as error:
            self._note(f"prewarm failed, the first request starts an environment: {error}")
            return None
        self._release(worker, healthy=True)
        return worker.init_ms or 0.0

    def _reserve(self, wait_s: float | None) -> _Worker | None:
        """An idle live environment, or None after reserving a slot for a new one."""
        deadline = None if wait_s is None else time.monotonic() + wait_s
        with self._lock:
            if self._full() and self.max_waiting is not None and self._waiting >= self.max_waiting:
                raise Throttled(f"{self._count} environments busy and {self._waiting} requests waiting")
            self._waiting += 1
            try:
                while not self._closed and self._full():
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise WaitTimedOut(f"no environment became free within {wait_s:.1f} s")
                    self._lock.wait(remaining)
            finally:
                self._waiting -= 1
            if self._closed:
                raise WorkerDied("the function host is shutting down")
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                # Died while idle (killed, out of memory): replaced by a new one below.
                self._count -= 1
                self._live.discard(worker)
                worker.stop()
                self._note(f"an idle environment had died (exit {worker.process.returncode}); starting a new one")
            self._count += 1
            return None

    def _full(self) -> bool:
        return not self._idle and self._count >= self.max_concurrency

    def _start(self, init_timeout_s: float) -> _Worker:
        worker = self._new_worker()
        with self._lock:
            if self._closed:  # closed while the process started: it must not join the fresh live set
                worker.stop()
                raise WorkerDied("the function host is shutting down")
            self._live.add(worker)
        try:
            worker.wait_ready(init_timeout_s)
        except TimeoutError:
            self._forget(worker)
            raise InitTimedOut(f"init did not finish within {init_timeout_s:.0f} s") from None
        except BaseException:
            self._forget(worker)
            raise
        return worker

    def _forget(self, worker: _Worker) -> None:
        with self._lock:
            self._live.discard(worker)
        worker.stop()

    def _acquire(self, wait_s: float | None = None, init_retry: bool = True) -> _Worker:
        worker = self._reserve(wait_s)
        if worker is not None:
            return worker
        try:
            try:
                return self._start(self.init_timeout_s)
            except InitTimedOut as error:
                if not init_retry:
                    raise
                # Lambda's rule: one more init, within the function's timeout, at the first invocation.
                self._note(f"{error}; trying once more within the function timeout ({self.spec.timeout} s)")
                worker = self._start(self.spec.timeout)
                worker.retried_init_s = time.monotonic() - worker.started
                return worker
        except BaseException:
            with self._lock:
                self._count -= 1
                self._lock.notify()
            raise

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._lock:
            if healthy and not self._closed and worker.alive():
                self._idle.append(worker)
            else:
                self._count -= 1
                self._live.discard(worker)
                worker.stop()
            self._lock.notify()

    def invoke(self, event: Any, wait_s: float | None = None) -> Invocation:
        """Runs one request. With wait_s, raises WaitTimedOut or Throttled when no environment is free."""
        started = time.monotonic()
        try:
            worker = self._acquire(wait_s)
        except InitTimedOut:
            message = f"Task timed out after {self.spec.timeout:.2f} seconds"
            return self._failed(_failure("Sandbox.Timedout", message), started)
        except OutOfMemory as error:
            return self._failed(_failure("Runtime.OutOfMemory", str(error)), started)
        except WorkerDied as error:
            return self._failed(_failure("Runtime.InitError", str(error)), started)
        cold = worker.init_ms if worker.started > started else None
        timeout = self.spec.timeout - worker.retried_init_s
        healthy = False
        try:
            if timeout <= 0:
                raise TimeoutError
            reply = worker.invoke(event, timeout)
            healthy = True
        except TimeoutError:
            reply = _failure("Sandbox.Timedout", f"Task timed out after {self.spec.timeout:.2f} seconds")
        except OutOfMemory as error:
            reply = _failure("Runtime.OutOfMemory", f"RequestId: {uuid.uuid4()} Error: {error}")
        except WorkerDied as error:
            reply = _failure("Runtime.ExitError", str(error))
        finally:
            self._release(worker, healthy)
        if not reply["ok"]:
            return self._failed(reply, started, cold)
        return Invocation(True, reply.get("result"), None, (time.monotonic() - started) * 1000, cold)

    def _failed(self, reply: dict[str, Any], started: float, cold: float | None = None) -> Invocation:
        self._note(f"invocation failed: {json.dumps(reply['error'])[:4000]}")
        return Invocation(False, reply.get("result"), reply["error"], (time.monotonic() - started) * 1000, cold)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._idle, self._live = list(self._live), [], set()
            self._lock.notify_all()
        for worker in workers:
            worker.stop()
        self._log.close()
