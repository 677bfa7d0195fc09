"""photomod_shared.verdict_events' outbox: what EventBridge refuses is kept as its entry, unchanged; only when the
outbox refuses too is the event lost, logged with its id, and nothing is raised to the outcome's writer."""

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from photomod_shared.verdict_events import EventRefused, VerdictBus, VerdictEvent, VerdictOutbox, put_entry
from tests.unit.test_verdict_events import done


class RefusingEvents:
    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate"}]}


class UnreachableEvents:
    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        raise ConnectionError("EventBridge is down")


class UnreachableQueue:
    def send_message(self, **_: Any) -> None:
        raise ConnectionError("SQS is down too")


def judged() -> VerdictEvent:
    return VerdictEvent.outcome(done())


@pytest.fixture
def outbox():
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="outbox")["QueueUrl"]
        yield (
            VerdictOutbox(sqs, url),
            lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []),
        )


@pytest.mark.parametrize("events", [RefusingEvents(), UnreachableEvents()], ids=["FailedEntryCount", "outage"])
def test_a_refused_event_is_kept_in_the_outbox_as_the_entry_it_was(outbox, events, caplog):
    keeper, messages = outbox
    bus = VerdictBus(events, "verdicts", keeper)

    assert bus.publish(judged()) is False

    (message,) = messages()
    entry = json.loads(message["Body"])
    assert entry == bus.entry(judged())
    assert json.loads(entry["Detail"])["event_id"] == judged().event_id  # the id a consumer de-duplicates by
    assert "kept in the outbox" in caplog.text


def test_when_the_outbox_refuses_too_the_event_is_logged_lost_and_nothing_is_raised(caplog):
    bus = VerdictBus(RefusingEvents(), "verdicts", VerdictOutbox(UnreachableQueue(), "https://sqs/outbox"))

    assert bus.publish(judged()) is False
    assert "verdict event lost" in caplog.text and judged().event_id in caplog.records[-1].__dict__["event_id"]


def test_put_entry_raises_with_eventbridges_reason():
    with pytest.raises(EventRefused, match="ThrottlingException"):
        put_entry(RefusingEvents(), VerdictBus(None, "verdicts").entry(judged()))
