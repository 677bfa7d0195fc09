"""The local host heals: a queue-triggered batch whose environment dies is retried within seconds, not after
the queue's visibility timeout, and nothing in it is lost. Real SQS (moto server), real worker processes.

Each test prints the recovery time it measured (pytest -s shows it).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.functions import FunctionSpec
from infra.local.invoker import FunctionPool
from infra.local.memory import MemoryLimits
from infra.local.sqs_source import PollerSupervisor, QueuePoller
from infra.paths import REPO_ROOT
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

HANDLERS = str(REPO_ROOT / "tests" / "process" / "handlers")
VISIBILITY_TIMEOUT_S = 120  # what a retry would wait without the host's help
RECOVERY_LIMIT_S = 30  # generous for a loaded machine; typically a few seconds


@pytest.fixture(scope="module")
def sqs() -> Iterator:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert time.monotonic() < deadline and server.poll() is None, "moto server did not start"
        time.sleep(0.1)
    yield boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    server.terminate()
    server.wait(timeout=10)


class Host:
    """A FunctionPool of tests/process/handlers/sample_handlers.record_batch fed by a supervised poller."""

    def __init__(
        self,
        sqs,
        tmp_path: Path,
        memory_mode: str = "off",
        visibility_timeout_s: int = VISIBILITY_TIMEOUT_S,
        wrap_pool: Callable[[FunctionPool], Any] | None = None,
    ):
        self.sqs = sqs
        self.queue_url = sqs.create_queue(
            QueueName=f"heal-{os.urandom(4).hex()}", Attributes={"VisibilityTimeout": str(visibility_timeout_s)}
        )["QueueUrl"]
        self.record_file = tmp_path / "processed.txt"
        self.record_file.touch()
        spec = FunctionSpec(
            logical_id="RecordFunction",
            name="photomod-local-RecordFunction",
            arn="arn:aws:lambda:us-east-1:123456789012:function:photomod-local-RecordFunction",
            handler="sample_handlers.record_batch",
            code_paths=[HANDLERS],
            environment={"RECORD_FILE": str(self.record_file)},
            timeout=60,
            memory_mb=128,
        )
        self.pool = FunctionPool(spec, 1, tmp_path, memory_guard=MemoryLimits(memory_mode).guard)
        self.poller_pool = wrap_pool(self.pool) if wrap_pool else self.pool
        self.log: list[str] = []
        self.stop = threading.Event()
        self.supervisor = PollerSupervisor(self._poller, 1, self.stop, check_s=0.2)

    def _poller(self) -> QueuePoller:
        queue_arn = "arn:aws:sqs:us-east-1:123456789012:" + self.queue_url.rsplit("/", 1)[1]
        return QueuePoller(
            self.sqs,
            self.queue_url,
            queue_arn,
            "us-east-1",
            self.poller_pool,
            10,
            0.5,
            True,
            self.stop,
            log=self.log.append,
        )

    def __enter__(self) -> "Host":
        self.supervisor.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        self.pool.close()
        self.supervisor.join_pollers(timeout=10)

    def send(self, bodies: list[dict]) -> list[str]:
        entries = [{"Id": str(index), "MessageBody": json.dumps(body)} for index, body in enumerate(bodies)]
        return [
            entry["MessageId"]
            for entry in self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)["Successful"]
        ]

    def processed(self) -> dict[str, str]:
        lines = self.record_file.read_text().split()
        return dict(zip(lines[::2], lines[1::2], strict=True))

    def wait_until_processed(self, message_ids: list[str], timeout_s: float) -> float:
        started = time.monotonic()
        while not set(message_ids) <= set(self.processed()):
            assert time.monotonic() - started < timeout_s, f"not processed in {timeout_s} s; log: {self.log}"
            time.sleep(0.1)
        return time.monotonic() - started

    def queue_empty(self) -> bool:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])["Attributes"]
        return (
            attributes["ApproximateNumberOfMessages"] == "0"
            and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
        )


def test_a_batch_whose_worker_crashed_is_retried_within_seconds(sqs, tmp_path):
    with Host(sqs, tmp_path) as host:
        started = time.monotonic()
        ids = host.send([{"die": "crash"}] + [{"photo": index} for index in range(7)])

        host.wait_until_processed(ids, RECOVERY_LIMIT_S)
        recovery = time.monotonic() - started

    print(f"\nrecovery after a worker crash: {recovery:.1f} s (visibility timeout {VISIBILITY_TIMEOUT_S} s)")
    assert recovery < RECOVERY_LIMIT_S < VISIBILITY_TIMEOUT_S
    assert set(host.processed().values()) == {"2"}  # every message, on its second delivery
    assert any("Runtime.ExitError" in line and "visible again" in line for line in host.log)


def test_a_batch_whose_worker_ran_out_of_memory_is_retried_within_seconds(sqs, tmp_path):
    with Host(sqs, tmp_path, memory_mode="auto") as host:
        started = time.monotonic()
        ids = host.send([{"die": "memory", "mb": 512}, {"photo": 1}])

        host.wait_until_processed(ids, RECOVERY_LIMIT_S)
        recovery = time.monotonic() - started

    print(f"\nrecovery after an out-of-memory end: {recovery:.1f} s (visibility timeout {VISIBILITY_TIMEOUT_S} s)")
    assert any("Runtime.OutOfMemory" in line and "visible again" in line for line in host.log)


def test_killing_the_worker_mid_batch_loses_nothing(sqs, tmp_path):
    started_file = tmp_path / "started"
    with Host(sqs, tmp_path) as host:
        ids = host.send([{"die": "hang", "started_file": str(started_file)}, {"photo": 1}, {"photo": 2}])
        deadline = time.monotonic() + 60
        while not started_file.exists():
            assert time.monotonic() < deadline, host.log
            time.sleep(0.05)
        killed_at = time.monotonic()
        os.kill(int(started_file.read_text()), signal.SIGKILL)

        host.wait_until_processed(ids, RECOVERY_LIMIT_S)
        recovery = time.monotonic() - killed_at
        deadline = time.monotonic() + 10
        while not host.queue_empty():
            assert time.monotonic() < deadline, "processed messages were not deleted"
            time.sleep(0.1)

    print(f"\nrecovery after killing the worker mid-batch: {recovery:.1f} s")
    assert sorted(host.processed()) == sorted(ids)


class EndsItsPollerOnce:
    """The pool as the first poller sees it: its first invocation ends the poller thread (SystemExit, which no
    `except Exception` catches) after the batch was received and before anything ran or was deleted."""

    def __init__(self, pool: FunctionPool):
        self.pool = pool
        self.spec = pool.spec
        self.ended = threading.Event()

    def invoke(self, event: dict) -> Any:
        if not self.ended.is_set():
            self.ended.set()
            raise SystemExit("the poller thread is killed mid-run")
        return self.pool.invoke(event)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the ending, on purpose
def test_killing_the_poller_thread_mid_batch_loses_nothing(sqs, tmp_path):
    visibility_timeout_s = 5  # what the batch the dead poller held waits before it is delivered again
    with Host(sqs, tmp_path, visibility_timeout_s=visibility_timeout_s, wrap_pool=EndsItsPollerOnce) as host:
        started = time.monotonic()
        ids = host.send([{"photo": index} for index in range(8)])

        host.wait_until_processed(ids, RECOVERY_LIMIT_S)
        recovery = time.monotonic() - started
        deadline = time.monotonic() + 10
        while not host.queue_empty():
            assert time.monotonic() < deadline, "processed messages were not deleted"
            time.sleep(0.1)

    print(f"\nrecovery after the poller thread was killed mid-batch: {recovery:.1f} s")
    assert host.poller_pool.ended.is_set()  # the first poller really died holding the batch
    assert any("started a new one" in line for line in host.log)
    assert sorted(host.processed()) == sorted(ids)
    assert recovery >= visibility_timeout_s - 1  # delivered again by SQS, not by the dead poller
