"""The verdict outbox under moto: an event EventBridge refuses is kept in VerdictOutboxQueue and put again by
VerdictOutboxFunction until accepted, with the same event_id (at least once, de-duplicable)."""

import json
from typing import Any

import pytest

from photomod_shared.prediction import Prediction
from photomod_shared.tables import PredictionTable
from tests.support.events import sqs_event_for

IMAGE_ID = "9f2c1e4b7a6d4c3e8b1a0f9e8d7c6b5a"  # the upload events/dead_letter_batch.json is about


class RefusingEvents:
    """EventBridge answering PutEvents with a refused entry (throttled), as it does under load or in an outage."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        self.entries += Entries
        refused = {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
        return {"FailedEntryCount": len(Entries), "Entries": [refused for _ in Entries]}


def shop_queue(stack) -> str:
    """A shop's rule on the verdict bus, sending every event to a queue of its own; the queue's URL."""
    sqs, events = stack.client("sqs"), stack.client("events")
    url = sqs.create_queue(QueueName="shop")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.template.ref("VerdictBus")
    events.put_rule(Name="shop", EventBusName=bus, EventPattern=json.dumps({"source": ["photomod"]}))
    events.put_targets(Rule="shop", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return url


def outbox_messages(stack) -> list[dict[str, Any]]:
    url = stack.template.queue_url("VerdictOutboxQueue")
    return stack.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])


def drain(stack, bodies: list[str], receive_count: int = 1) -> dict[str, Any]:
    with stack.handler_module("VerdictOutboxFunction") as outbox:
        event = sqs_event_for(bodies, stack.template.arn("VerdictOutboxQueue"), receive_count=receive_count)
        return outbox.lambda_handler(event, stack.context("VerdictOutboxFunction"))


@pytest.fixture
def refused_outcome(stack, load_event) -> str:
    """A dead-lettered photo ended failed while EventBridge refused its event; the outbox message's body."""
    PredictionTable(stack.table("PredictionsTable")).create_pending(
        Prediction.pending(
            IMAGE_ID, s3_key=f"uploads/{IMAGE_ID}.jpg", source="upload", created_at="2026-11-26T09:14:07.000Z"
        )
    )
    refusing = RefusingEvents()
    with stack.handler_module("DeadLetterFunction") as dead_letters:
        dead_letters.verdicts._client = refusing  # the function's own publisher, its EventBridge refusing
        result = dead_letters.lambda_handler(load_event("dead_letter_batch"), stack.context("DeadLetterFunction"))
    assert result == {"batchItemFailures": []}  # the outcome is stored, not retried for its event
    assert len(refusing.entries) == 1
    (message,) = outbox_messages(stack)
    assert json.loads(message["Body"]) == refusing.entries[0]  # kept exactly as it was to be put
    return message["Body"]


def test_an_event_eventbridge_refused_reaches_the_bus_from_the_outbox_with_the_same_id(stack, refused_outcome):
    shop = shop_queue(stack)
    refused_id = json.loads(json.loads(refused_outcome)["Detail"])["event_id"]

    assert drain(stack, [refused_outcome]) == {"batchItemFailures": []}

    (message,) = stack.client("sqs").receive_message(QueueUrl=shop, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"]) == ("photomod", "Photo Failed")
    assert event["detail"]["event_id"] == refused_id and event["detail"]["image_id"] == IMAGE_ID
    assert event["detail"]["error"]["code"] == "retries_exhausted"


def test_an_event_refused_again_stays_in_the_outbox_for_the_next_attempt(stack, refused_outcome):
    stack.client("events").delete_event_bus(Name=stack.template.ref("VerdictBus"))  # still an outage

    result = drain(stack, [refused_outcome], receive_count=3)

    assert len(result["batchItemFailures"]) == 1  # reported, so SQS offers it again after its visibility timeout


def test_the_drainer_puts_on_its_own_bus_only_and_drops_what_is_no_verdict_event(stack, refused_outcome):
    shop = shop_queue(stack)
    elsewhere = json.dumps({**json.loads(refused_outcome), "EventBusName": "someone-elses-bus"})

    assert drain(stack, [elsewhere, "not json", json.dumps({"Source": "x", "Detail": "{}"})]) == {
        "batchItemFailures": []
    }

    (message,) = stack.client("sqs").receive_message(QueueUrl=shop, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["detail"]["image_id"] == IMAGE_ID
