"""Execution environments for one function: a pool of worker processes, each serving one request at a time.

Like Lambda, an environment is reused while it stays healthy; one that times out or crashes is discarded
and the next request gets a fresh one (a cold start).
"""

import json
import os
import select
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from infra.functions import FunctionSpec
from infra.template import REPO_ROOT


def die_with_parent() -> None:
    """For children forked by the main thread: they end when the host ends, however it ends (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Invocation:
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    cold_start_ms: float | None = None


class WorkerDied(RuntimeError):
    pass


class _Worker:
    def __init__(self, spec: FunctionSpec, log: TextIO, call_log: Path | None = None):
        read_fd, write_fd = os.pipe()
        environment = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **spec.environment}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            spec.worker_command(write_fd, call_log),
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
            raise WorkerDied(f"Runtime exited with error: exit status {code}")
        return json.loads(line)

    def wait_ready(self) -> None:
        reply = self._read_reply(timeout=None)
        if not reply.get("ready"):
            raise WorkerDied(json.dumps(reply.get("error")))
        self.init_ms = reply.get("init_ms")

    def invoke(self, event: Any, timeout_s: int) -> dict[str, Any]:
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


class FunctionPool:
    def __init__(self, spec: FunctionSpec, max_concurrency: int, log_dir: Path):
        self.spec = spec
        self.max_concurrency = max_concurrency
        self._log = (log_dir / f"{spec.logical_id}.log").open("a", buffering=1)
        # Every AWS call the function makes, for the permission check against its policy (infra/permissions.py).
        self.call_log = log_dir / "calls" / f"{spec.logical_id}.jsonl"
        self.call_log.parent.mkdir(exist_ok=True)
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()  # idle and busy: all of them are stopped on close
        self._count = 0
        self._lock = threading.Condition()
        self._closed = False

    def prewarm(self) -> float:
        """Starts one environment ahead of the first request; returns its init time in ms."""
        worker = self._acquire()
        self._release(worker, healthy=True)
        return worker.init_ms or 0.0

    def _acquire(self) -> _Worker:
        with self._lock:
            while not self._closed and not self._idle and self._count >= self.max_concurrency:
                self._lock.wait()
            if self._closed:
                raise WorkerDied("the function host is shutting down")
            if self._idle:
                return self._idle.pop()
            self._count += 1
        worker = None
        try:
            worker = _Worker(self.spec, self._log, self.call_log)
            with self._lock:
                self._live.add(worker)
            worker.wait_ready()
            return worker
        except BaseException:
            with self._lock:
                self._count -= 1
                if worker is not None:
                    self._live.discard(worker)
                    worker.stop()
                self._lock.notify()
            raise

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._lock:
            if healthy and not self._closed:
                self._idle.append(worker)
            else:
                self._count -= 1
                self._live.discard(worker)
                worker.stop()
            self._lock.notify()

    def invoke(self, event: Any) -> Invocation:
        started = time.monotonic()
        try:
            worker = self._acquire()
        except WorkerDied as error:
            return Invocation(ok=False, error={"errorType": "Runtime.InitError", "errorMessage": str(error)})
        cold = worker.init_ms if worker.started > started else None
        healthy = False
        try:
            reply = worker.invoke(event, self.spec.timeout)
            healthy = True
        except TimeoutError:
            message = f"Task timed out after {self.spec.timeout:.2f} seconds"
            reply = {"ok": False, "error": {"errorType": "Sandbox.Timedout", "errorMessage": message}}
        except WorkerDied as error:
            reply = {"ok": False, "error": {"errorType": "Runtime.ExitError", "errorMessage": str(error)}}
        finally:
            self._release(worker, healthy)
        duration = (time.monotonic() - started) * 1000
        if not reply["ok"] and not self._closed:
            self._log.write(f"[function host] invocation failed: {json.dumps(reply['error'])[:4000]}\n")
        return Invocation(reply["ok"], reply.get("result"), reply.get("error"), duration, cold)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._idle, self._live = list(self._live), [], set()
            self._lock.notify_all()
        for worker in workers:
            worker.stop()
        self._log.close()
