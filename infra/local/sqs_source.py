"""The SQS event source mapping, as Lambda runs it: long-poll, batch, invoke, delete what succeeded.

Failed messages are not deleted: they reappear after the queue's visibility timeout and, past the redrive
policy's maxReceiveCount, the emulator moves them to the dead-letter queue. A batch whose environment died
(crash, out of memory) is made visible again after a short backoff instead, so its photos are retried in
seconds rather than after the whole visibility timeout.

A poller never ends on an error: whatever one iteration raises is logged and polling goes on after a
pause; `PollerSupervisor` restarts a poller thread that ended all the same.
"""

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from infra.local.invoker import FunctionPool

# The environment died under the batch: nothing in the batch was judged, so retry it soon.
WORKER_DEATHS = ("Runtime.ExitError", "Runtime.OutOfMemory")
# Seconds before a batch whose environment died is visible again, by the batch's highest receive count.
DEATH_BACKOFF_S = (1, 5, 15)
ERROR_PAUSE_S = 1.0


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda builds from received messages."""
    records = []
    for message in messages:
        attributes = message.get("Attributes", {})
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    name: attributes[name]
                    for name in (
                        "ApproximateReceiveCount",
                        "SentTimestamp",
                        "SenderId",
                        "ApproximateFirstReceiveTimestamp",
                        "MessageGroupId",
                        "MessageDeduplicationId",
                        "SequenceNumber",
                    )
                    if name in attributes
                },
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": value.get("StringListValues", []),
                        "binaryListValues": value.get("BinaryListValues", []),
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def succeeded_messages(
    messages: list[dict[str, Any]], invocation: Any, report_batch_item_failures: bool
) -> list[dict[str, Any]]:
    """The messages to delete after an invocation, by Lambda's rules for partial batch responses."""
    if not invocation.ok:
        return []
    if not report_batch_item_failures:
        return messages
    result = invocation.result
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return messages  # null, empty or absent: the whole batch succeeded
    ids = {message["MessageId"] for message in messages}
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in ids:
            return []  # an invalid response fails the whole batch
        failed.add(identifier)
    return [message for message in messages if message["MessageId"] not in failed]


class QueuePoller(threading.Thread):
    """One poller per concurrent invocation the mapping may run (MaximumConcurrency)."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        pool: FunctionPool,
        batch_size: int,
        batching_window_s: float,
        report_batch_item_failures: bool,
        stop: threading.Event,
        log: Callable[[str], object] = print,
    ):
        super().__init__(daemon=True, name=f"sqs-{pool.spec.logical_id}")
        self.sqs, self.queue_url, self.queue_arn, self.region = sqs, queue_url, queue_arn, region
        self.pool = pool
        self.batch_size = batch_size
        self.batching_window_s = batching_window_s
        self.report_batch_item_failures = report_batch_item_failures
        self.stop_event = stop
        self.log = log

    def _receive(self, wait_s: int, count: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(10, count),
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def next_batch(self) -> list[dict[str, Any]]:
        messages = self._receive(wait_s=2, count=self.batch_size)
        deadline = time.monotonic() + self.batching_window_s
        while messages and len(messages) < self.batch_size and time.monotonic() < deadline:
            more = self._receive(wait_s=0, count=self.batch_size - len(messages))
            if not more:
                time.sleep(0.05)
            messages.extend(more)
        return messages

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except Exception as error:  # never end: a poller that stops leaves every later upload pending
                if self.stop_event.is_set():
                    return
                self.log(
                    f"[{self.pool.spec.logical_id}] poller error, polling again in {ERROR_PAUSE_S:.0f} s: {error!r}"
                )
                self.stop_event.wait(ERROR_PAUSE_S)

    def poll_once(self) -> None:
        messages = self.next_batch()
        if not messages or self.stop_event.is_set():
            return
        invocation = self.pool.invoke(sqs_event(messages, self.queue_arn, self.region))
        done = succeeded_messages(messages, invocation, self.report_batch_item_failures)
        self._delete_messages(done)
        error_type = invocation.error.get("errorType") if invocation.error else None
        status = "ok" if invocation.ok else f"error {error_type or ''}"
        retry_note = ""
        if error_type in WORKER_DEATHS and not self.stop_event.is_set():
            backoff = retry_backoff_s(messages)
            self._make_visible(messages, backoff)
            retry_note = f", visible again in {backoff} s"
        self.log(
            f"[{self.pool.spec.logical_id}] batch of {len(messages)}: {status}, "
            f"{len(done)} deleted, {len(messages) - len(done)} left for retry{retry_note} "
            f"({invocation.duration_ms:.0f} ms)"
        )

    def _delete_messages(self, messages: list[dict[str, Any]]) -> None:
        for entries in _batch_entries(messages):
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)

    def _make_visible(self, messages: list[dict[str, Any]], after_s: int) -> None:
        for entries in _batch_entries(messages, VisibilityTimeout=after_s):
            self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)


def _batch_entries(messages: list[dict[str, Any]], **fields: Any) -> Iterator[list[dict[str, Any]]]:
    """The Entries of SQS batch calls (ten messages at most each) about these messages."""
    for start in range(0, len(messages), 10):
        yield [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], **fields}
            for index, message in enumerate(messages[start : start + 10])
        ]


def retry_backoff_s(messages: list[dict[str, Any]]) -> int:
    """Longer after each death of the same batch (e.g. one photo that kills the worker every time)."""
    receives = max(int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)) for message in messages)
    return DEATH_BACKOFF_S[min(receives, len(DEATH_BACKOFF_S)) - 1]


class PollerSupervisor(threading.Thread):
    """Starts pollers and starts a new one in place of any that ended while the host runs."""

    def __init__(self, make_poller: Callable[[], QueuePoller], count: int, stop: threading.Event, check_s: float = 1.0):
        super().__init__(daemon=True, name="sqs-supervisor")
        self.make_poller = make_poller
        self.stop_event = stop
        self.check_s = check_s
        self.pollers = [make_poller() for _ in range(count)]
        self.restarts = 0

    def run(self) -> None:
        for poller in self.pollers:
            poller.start()
        while not self.stop_event.wait(self.check_s):
            for index, poller in enumerate(self.pollers):
                if not poller.is_alive() and not self.stop_event.is_set():
                    replacement = self.make_poller()
                    replacement.log(
                        f"[{replacement.pool.spec.logical_id}] a poller thread had ended; started a new one"
                    )
                    replacement.start()
                    self.pollers[index] = replacement
                    self.restarts += 1

    def join_pollers(self, timeout: float) -> None:
        for poller in self.pollers:
            if poller.is_alive():
                poller.join(timeout=timeout)
