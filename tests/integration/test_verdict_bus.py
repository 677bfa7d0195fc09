"""Verdict events, as a shop's backend sees them: a rule of its own on the stack's bus (VerdictBusName) sends them
to its queue, one event per final outcome, in the documented shape (docs/integrations.md)."""

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.helpers import (
    DOG_PHOTO,
    api_post,
    prediction_item,
    unique,
    upload_photo,
    wait_for_final,
)
from tests.integration.test_reviews_and_display import force_verdict, settle

pytestmark = pytest.mark.integration

DETAIL_KEYS = {
    "schema_version",
    "event_id",
    "image_id",
    "object_version",
    "s3_key",
    "verdict",
    "reasons",
    "policy_version",
    "model_verdict",
    "error",
    "moderation",
    "report",
    "occurred_at",
}
EVENT_TIMEOUT_S = 30
# After an outcome's event arrived, how long a second copy is looked for (EventBridge delivers within ms here).
QUIET_S = 3


class ShopQueue:
    """The shop's SQS queue behind its rule; keeps every event it received."""

    def __init__(self, sqs: Any, url: str) -> None:
        self._sqs, self._url = sqs, url
        self.events: list[dict[str, Any]] = []

    def _receive(self) -> None:
        reply = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            self.events.append(json.loads(message["Body"]))
            self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])

    def matching(self, image_id: str, detail_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["detail"]["image_id"] == image_id and e["detail-type"] == detail_type]

    def only_event(self, image_id: str, detail_type: str) -> dict[str, Any]:
        """The one event of this outcome: waits for it, then a little longer for a copy that should not come."""
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while not self.matching(image_id, detail_type) and time.monotonic() < deadline:
            self._receive()
        quiet_until = time.monotonic() + QUIET_S
        while time.monotonic() < quiet_until:
            self._receive()
        found = self.matching(image_id, detail_type)
        assert len(found) == 1, f"{detail_type} events for {image_id}: {found} (all: {self.events})"
        return found[0]


@pytest.fixture(scope="module")
def shop_queue(local_stack) -> Iterator[ShopQueue]:
    events, sqs = local_stack.client("events"), local_stack.client("sqs")
    bus = local_stack.output("VerdictBusName")
    name = unique("shop-verdicts")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["photomod"]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "shop", "Arn": arn}])
    try:
        yield ShopQueue(sqs, url)
    finally:
        events.remove_targets(Rule=name, EventBusName=bus, Ids=["shop"])
        events.delete_rule(Name=name, EventBusName=bus)
        sqs.delete_queue(QueueUrl=url)


def assert_documented_shape(event: dict[str, Any], detail_type: str) -> dict[str, Any]:
    assert event["source"] == "photomod" and event["detail-type"] == detail_type
    detail = event["detail"]
    assert set(detail) == DETAIL_KEYS, detail
    assert detail["schema_version"] == "1" and detail["event_id"]
    return detail


def test_a_judged_photo_is_one_event_with_its_verdict_reasons_and_policy_version(local_stack, shop_queue):
    image_id = upload_photo(local_stack, DOG_PHOTO.read_bytes(), "dog.jpeg")["image_id"]
    stored = wait_for_final(local_stack, image_id)

    detail = assert_documented_shape(shop_queue.only_event(image_id, "Photo Judged"), "Photo Judged")

    assert (detail["verdict"], detail["policy_version"]) == (stored["verdict"], stored["policy_version"])
    assert detail["reasons"] == stored["verdict_reasons"]
    assert detail["object_version"] == stored["object_version"] and detail["s3_key"] == stored["s3_key"]
    assert detail["occurred_at"] == stored["classified_at"] and detail["error"] is None


def test_a_photo_that_can_never_be_judged_is_one_failed_event_with_its_reason(local_stack, shop_queue):
    image_id = upload_photo(local_stack, b"this is no photo at all" * 10, "fake.jpg")["image_id"]
    stored = wait_for_final(local_stack, image_id)
    assert stored["status"] == "failed"

    detail = assert_documented_shape(shop_queue.only_event(image_id, "Photo Failed"), "Photo Failed")

    assert detail["verdict"] is None and detail["error"]["code"] == stored["error"]["code"]


def test_a_moderators_decision_is_one_event_with_the_decision_and_the_models_verdict(local_stack, shop_queue):
    image_id = upload_photo(local_stack, DOG_PHOTO.read_bytes(), "dog.jpeg")["image_id"]
    wait_for_final(local_stack, image_id)
    shop_queue.only_event(image_id, "Photo Judged")
    force_verdict(local_stack, image_id, "review")

    assert settle(local_stack, image_id, "block", note="not our product").status_code == 200

    detail = assert_documented_shape(shop_queue.only_event(image_id, "Photo Decided"), "Photo Decided")
    assert detail["verdict"] == "block" and detail["model_verdict"] == "review"
    assert detail["moderation"]["decision"] == "block" and detail["moderation"]["note"] == "not our product"
    assert detail["object_version"] == (prediction_item(local_stack, image_id) or {}).get("object_version")


def test_a_shoppers_report_is_one_event_saying_whether_it_went_back_to_review(local_stack, shop_queue):
    image_id = upload_photo(local_stack, DOG_PHOTO.read_bytes(), "dog.jpeg")["image_id"]
    wait_for_final(local_stack, image_id)
    force_verdict(local_stack, image_id, "allow")

    reply = api_post(
        local_stack, f"/predictions/{image_id}/feedback", json={"correct_label": "", "inappropriate": True}
    )

    assert reply.status_code == 201, reply.text
    detail = assert_documented_shape(shop_queue.only_event(image_id, "Photo Reported"), "Photo Reported")
    assert detail["report"]["sent_to_review"] is True and detail["verdict"] == "review"
    assert detail["model_verdict"] == "allow"
