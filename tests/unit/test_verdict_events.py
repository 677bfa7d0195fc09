"""photomod_shared.verdict_events: one shape for every final outcome, and its publisher over EventBridge (moto)."""

import json

import boto3
import pytest
from moto import mock_aws

from photomod_shared.prediction import Failure, Prediction
from photomod_shared.verdict_events import DECIDED, FAILED, JUDGED, REPORTED, VerdictBus, VerdictEvent

REASONS = [{"category": "alcohol", "action": "review", "label": "beer_bottle", "wnid": "n02823428", "score": 0.6}]


def done(**fields) -> Prediction:
    base = Prediction.done(
        "img1",
        s3_key="uploads/img1.jpg",
        object_etag="e",
        prediction="beer_bottle",
        score=0.6,
        labels=[],
        verdict="review",
        verdict_reasons=REASONS,
        policy_version="p.1",
        model={"name": "ResNet50", "weights": "untrained"},
        safety=None,
    ).classified("2026-12-03T12:00:00Z")
    return base.replaced(object_version="v1", **fields)


def test_a_judged_outcome_carries_verdict_reasons_and_policy_version():
    event = VerdictEvent.outcome(done())

    detail = event.detail()
    assert event.detail_type == JUDGED
    assert (detail["verdict"], detail["reasons"], detail["policy_version"]) == ("review", REASONS, "p.1")
    assert (detail["image_id"], detail["object_version"], detail["occurred_at"]) == (
        "img1",
        "v1",
        "2026-12-03T12:00:00Z",
    )


def test_a_failed_outcome_carries_its_error_and_no_verdict():
    failed = Prediction.failed("img2", s3_key="uploads/img2.jpg", error=Failure("corrupt_image", "cannot decode"))

    event = VerdictEvent.outcome(failed.classified("2026-12-03T12:00:00Z"))

    assert event.detail_type == FAILED
    assert event.detail()["verdict"] is None and event.detail()["error"] == {
        "code": "corrupt_image",
        "message": "cannot decode",
    }


def test_every_copy_of_one_outcome_has_the_same_event_id_and_other_outcomes_another():
    judged = VerdictEvent.outcome(done())
    decided = VerdictEvent.decided(done(), "allow", "", "2026-12-03T12:05:00Z")
    reported = VerdictEvent.reported(done(), "2026-12-03T12:06:00Z", sent_to_review=False)

    assert VerdictEvent.outcome(done()).event_id == judged.event_id
    assert len({judged.event_id, decided.event_id, reported.event_id}) == 3
    assert (decided.detail_type, decided.verdict, decided.model_verdict) == (DECIDED, "allow", "review")
    assert (reported.detail_type, reported.report) == (
        REPORTED,
        {"sent_to_review": False, "reported_at": "2026-12-03T12:06:00Z"},
    )


@pytest.fixture
def events():
    with mock_aws():
        client = boto3.client("events", region_name="us-east-1")
        client.create_event_bus(Name="verdicts")
        yield client


def test_the_bus_puts_the_event_with_source_detail_type_and_detail(events):
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="shop")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="shop", EventBusName="verdicts", EventPattern=json.dumps({"detail-type": [JUDGED]}))
    events.put_targets(Rule="shop", EventBusName="verdicts", Targets=[{"Id": "q", "Arn": arn}])

    assert VerdictBus(events, "verdicts").publish(VerdictEvent.outcome(done())) is True

    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    received = json.loads(message["Body"])
    assert (received["source"], received["detail-type"]) == ("photomod", JUDGED)
    assert received["detail"]["event_id"] == VerdictEvent.outcome(done()).event_id


def test_an_event_eventbridge_refuses_is_logged_and_never_raised(events, caplog):
    published = VerdictBus(events, "no-such-bus").publish(VerdictEvent.outcome(done()))

    assert published is False
    assert "verdict event not sent" in caplog.text
