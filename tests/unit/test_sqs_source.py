"""infra.sqs_source: the events Lambda builds from SQS messages and which messages it deletes afterwards."""

import hashlib

import pytest

from infra.invoker import Invocation
from infra.sqs_source import sqs_event, succeeded_messages

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
