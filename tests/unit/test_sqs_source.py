"""infra.local.sqs_source: the events Lambda builds from SQS messages and which messages it deletes afterwards."""

import hashlib
import threading
import time
from unittest.mock import patch

import pytest

from infra.local.invoker import Invocation
from infra.local.sqs_source import (
    DEATH_BACKOFF_S,
    PollerSupervisor,
    QueuePoller,
    retry_backoff_s,
    sqs_event,
    succeeded_messages,
)

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:photomod-local-ClassifyQueue"


def received(message_id: str, body: str = '{"Records": []}', **extra) -> dict:
    """A message as sqs.receive_message(AttributeNames=["All"], MessageAttributeNames=["All"]) returns it."""
    return {
        "MessageId": message_id,
        "ReceiptHandle": f"handle-{message_id}",
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "Body": body,
        "Attributes": {
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1795684449612",
            "ApproximateReceiveCount": "2",
            "SentTimestamp": "1795684449600",
            "AWSTraceHeader": "Root=1-6745a1f0-3c2b1a0f9e8d7c6b5a4f3e2d",
        },
        **extra,
    }


def test_sqs_event_records_have_lambdas_shape(load_event):
    message = received("059f36b4-87a3-44ab-83d2-661975830a7d", body="hello")

    (record,) = sqs_event([message], QUEUE_ARN, "us-east-1")["Records"]

    # The same keys, in the same places, as a real event (the fixture).
    assert set(record) == set(load_event("classify_sqs_batch")["Records"][0])
    assert record == {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "receiptHandle": "handle-059f36b4-87a3-44ab-83d2-661975830a7d",
        "body": "hello",
        "attributes": {
            "ApproximateReceiveCount": "2",
            "SentTimestamp": "1795684449600",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1795684449612",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(b"hello").hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def test_sqs_event_message_attributes_use_lambdas_camel_case():
    message = received("m1", MessageAttributes={"origin": {"StringValue": "web", "DataType": "String"}})

    (record,) = sqs_event([message], QUEUE_ARN, "us-east-1")["Records"]

    assert record["messageAttributes"] == {
        "origin": {
            "stringValue": "web",
            "binaryValue": None,
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }


def test_sqs_event_computes_the_md5_when_the_receive_did_not_return_it():
    message = received("m1", body="payload")
    del message["MD5OfBody"]

    (record,) = sqs_event([message], QUEUE_ARN, "us-east-1")["Records"]

    assert record["md5OfBody"] == hashlib.md5(b"payload").hexdigest()


def test_sqs_event_keeps_the_order_of_the_batch():
    messages = [received(f"m{index}") for index in range(10)]

    assert [record["messageId"] for record in sqs_event(messages, QUEUE_ARN, "us-east-1")["Records"]] == [
        f"m{index}" for index in range(10)
    ]


# --- succeeded_messages ----------------------------------------------------------------------------

BATCH = [received("m1"), received("m2"), received("m3")]


def ids(messages: list[dict]) -> list[str]:
    return [message["MessageId"] for message in messages]


@pytest.mark.parametrize("result", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, "ok"])
def test_a_response_without_failures_deletes_the_whole_batch(result):
    assert ids(succeeded_messages(BATCH, Invocation(ok=True, result=result), True)) == ["m1", "m2", "m3"]


def test_reported_failures_stay_in_the_queue():
    result = {"batchItemFailures": [{"itemIdentifier": "m2"}]}

    assert ids(succeeded_messages(BATCH, Invocation(ok=True, result=result), True)) == ["m1", "m3"]


def test_every_message_reported_failed_deletes_nothing():
    result = {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in ("m1", "m2", "m3")]}

    assert succeeded_messages(BATCH, Invocation(ok=True, result=result), True) == []


@pytest.mark.parametrize(
    "failures",
    [
        [{"itemIdentifier": "not-in-this-batch"}],
        [{"itemIdentifier": "m1"}, {"itemIdentifier": ""}],
        [{"itemIdentifier": None}],
        [{"messageId": "m1"}],
        ["m1"],
    ],
)
def test_an_invalid_item_identifier_fails_the_whole_batch(failures):
    result = {"batchItemFailures": failures}

    assert succeeded_messages(BATCH, Invocation(ok=True, result=result), True) == []


def test_a_failed_invocation_deletes_nothing():
    invocation = Invocation(ok=False, error={"errorType": "Runtime.ExitError", "errorMessage": "killed"})

    assert succeeded_messages(BATCH, invocation, True) == []
    assert succeeded_messages(BATCH, invocation, False) == []


def test_without_report_batch_item_failures_the_response_is_ignored():
    result = {"batchItemFailures": [{"itemIdentifier": "m2"}]}

    assert ids(succeeded_messages(BATCH, Invocation(ok=True, result=result), False)) == ["m1", "m2", "m3"]


# --- the poller never stops ------------------------------------------------------------------------


class FakeQueue:
    """An SQS client stand-in: hands out `batches` in turn, then nothing; records deletes and visibility changes."""

    def __init__(self, batches: list[list[dict]], fail_deletes: int = 0):
        self.batches = list(batches)
        self.fail_deletes = fail_deletes
        self.deleted: list[str] = []
        self.visibility: list[tuple[str, int]] = []
        self.idle = threading.Event()

    def receive_message(self, **_request) -> dict:
        if not self.batches:
            self.idle.set()
            time.sleep(0.01)
            return {}
        return {"Messages": self.batches.pop(0)}

    def delete_message_batch(self, Entries, **_request) -> None:  # noqa: N803 - boto3's names
        if self.fail_deletes:
            self.fail_deletes -= 1
            raise ConnectionError("the emulator went away")
        self.deleted.extend(entry["ReceiptHandle"] for entry in Entries)

    def change_message_visibility_batch(self, Entries, **_request) -> None:  # noqa: N803
        self.visibility.extend((entry["ReceiptHandle"], entry["VisibilityTimeout"]) for entry in Entries)


class FakePool:
    """Answers each invocation with the next of `outcomes`: an Invocation, or an exception to raise."""

    def __init__(self, outcomes: list):
        self.outcomes = list(outcomes)
        self.spec = type("Spec", (), {"logical_id": "ClassifyFunction"})()

    def invoke(self, event):
        outcome = self.outcomes.pop(0) if self.outcomes else Invocation(ok=True, result=None)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def run_poller(queue: FakeQueue, pool: FakePool, log: list[str], supervisor: bool = False) -> None:
    stop = threading.Event()

    def make_poller() -> QueuePoller:
        return QueuePoller(queue, "url", QUEUE_ARN, "us-east-1", pool, 10, 0, True, stop, log=log.append)

    thread = PollerSupervisor(make_poller, 1, stop, check_s=0.05) if supervisor else make_poller()
    with patch("infra.local.sqs_source.ERROR_PAUSE_S", 0.01):
        thread.start()
        assert queue.idle.wait(10)
        stop.set()
        thread.join(timeout=10)


def test_an_exception_from_the_invocation_is_logged_and_polling_goes_on():
    queue = FakeQueue([[received("m1")], [received("m2")]])
    log: list[str] = []

    run_poller(queue, FakePool([RuntimeError("pool exploded")]), log)

    assert queue.deleted == ["handle-m2"]  # m1 stays in the queue for its retry
    assert any("pool exploded" in line for line in log)


def test_a_failed_delete_is_logged_and_polling_goes_on():
    queue = FakeQueue([[received("m1")], [received("m2")]], fail_deletes=1)
    log: list[str] = []

    run_poller(queue, FakePool([]), log)

    assert queue.deleted == ["handle-m2"]
    assert any("the emulator went away" in line for line in log)


@pytest.mark.parametrize("error_type", ["Runtime.ExitError", "Runtime.OutOfMemory"])
def test_a_batch_whose_environment_died_is_visible_again_within_seconds(error_type):
    died = Invocation(ok=False, error={"errorType": error_type, "errorMessage": "signal: killed"})
    queue = FakeQueue([[received("m1"), received("m2")]])

    run_poller(queue, FakePool([died]), [])

    assert queue.deleted == []
    # received() says ApproximateReceiveCount 2: the second backoff step
    assert queue.visibility == [("handle-m1", DEATH_BACKOFF_S[1]), ("handle-m2", DEATH_BACKOFF_S[1])]


def test_a_function_error_leaves_the_batch_to_the_visibility_timeout():
    failed = Invocation(ok=False, error={"errorType": "ValueError", "errorMessage": "bad"})
    queue = FakeQueue([[received("m1")]])

    run_poller(queue, FakePool([failed]), [])

    assert queue.visibility == [] and queue.deleted == []


def test_the_backoff_grows_with_the_receive_count():
    first, third = received("m1"), received("m2")
    first["Attributes"]["ApproximateReceiveCount"] = "1"
    third["Attributes"]["ApproximateReceiveCount"] = "7"

    assert retry_backoff_s([first]) == DEATH_BACKOFF_S[0]
    assert retry_backoff_s([first, third]) == DEATH_BACKOFF_S[-1]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the ending, on purpose
def test_a_poller_thread_that_ended_is_replaced_by_the_supervisor():
    class EndsOnce(FakePool):
        def invoke(self, event):
            if not getattr(self, "ended", False):
                self.ended = True
                raise SystemExit("a thread-ending error that no `except Exception` catches")
            return super().invoke(event)

    queue = FakeQueue([[received("m1")], [received("m2")]])
    log: list[str] = []

    run_poller(queue, EndsOnce([]), log, supervisor=True)

    assert queue.deleted == ["handle-m2"]
    assert any("started a new one" in line for line in log)
