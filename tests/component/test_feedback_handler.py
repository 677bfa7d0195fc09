"""The feedback function's handler under moto: corrections stored next to the prediction they correct."""

import json
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from photomod_shared.prediction import EventStamp, Prediction
from photomod_shared.tables import PredictionTable
from tests.component.mocked import header, response_json

IMAGE_ID = "9f2c1e4b7a6d4c3e8b1a0f9e8d7c6b5a"  # the image events/record_feedback.json reports on
VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"  # the S3 version that was judged


@pytest.fixture
def call(stack):
    with stack.handler_module("FeedbackFunction") as feedback_app:

        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            return feedback_app.lambda_handler(event, stack.context("FeedbackFunction"))

        yield invoke


@pytest.fixture
def classified(stack) -> None:
    """Given: the image was classified as a clog."""
    PredictionTable(stack.table("PredictionsTable")).record_outcome(
        Prediction(
            IMAGE_ID,
            "done",
            prediction="clog",
            score=0.8125,
            verdict="allow",
            s3_key=f"uploads/{IMAGE_ID}.jpg",
            labels=[{"label": "clog", "wnid": "n03047690", "score": 0.8125}],
            classified_at="2026-11-26T09:14:09.000Z",
        ),
        EventStamp("00674591F1A1B2C3D4", "2026-11-26T09:14:08.000Z", VERSION),
        "2026-11-26T09:14:07.000Z",
    )


def feedback_items(stack) -> list[dict[str, Any]]:
    return stack.table("FeedbackTable").query(KeyConditionExpression=Key("image_id").eq(IMAGE_ID))["Items"]


def test_feedback_is_201_and_stored_with_the_predictions_key_label_and_score(stack, call, classified, load_event):
    response = call(load_event("record_feedback"))

    assert response["statusCode"] == 201
    assert header(response, "Access-Control-Allow-Origin") == "http://localhost:8000"
    recorded = response_json(response)
    assert recorded["image_id"] == IMAGE_ID
    assert recorded["feedback_id"].startswith(recorded["created_at"] + "#")
    (item,) = feedback_items(stack)
    assert item == {
        "image_id": IMAGE_ID,
        "feedback_id": recorded["feedback_id"],
        "s3_key": f"uploads/{IMAGE_ID}.jpg",
        "prediction": "clog",
        "score": Decimal("0.8125"),
        "verdict": "allow",
        "verdict_reasons": [],
        "status_at_feedback": "done",
        "correct_label": "running shoe",
        "comment": "It is a trainer, not a clog.",
        "inappropriate": False,
        "over_report_limit": False,
        "created_at": recorded["created_at"],
    }


def test_two_reports_on_one_image_are_both_kept(stack, call, classified, load_event):
    call(load_event("record_feedback"))
    call(load_event("record_feedback"))

    assert len(feedback_items(stack)) == 2


def test_feedback_on_an_unknown_image_is_404_and_stores_nothing(stack, call, load_event):
    response = call(load_event("record_feedback"))

    assert response["statusCode"] == 404
    assert response_json(response)["error"]["code"] == "image_not_found"
    assert feedback_items(stack) == []


@pytest.mark.parametrize(
    "body",
    [
        {"correct_label": ""},
        {"comment": "label missing"},
        {"correct_label": "shoe", "inappropriate": "perhaps"},
        {"correct_label": "shoe", "rating": 5},
        {"correct_label": "line\nbreak"},
        "not json",
    ],
    ids=["empty-label", "missing-label", "non-boolean", "unknown-field", "control-character", "malformed-json"],
)
def test_an_invalid_feedback_body_is_400_with_the_error_body(stack, call, classified, load_event, body):
    event = load_event("record_feedback")
    event["body"] = body if isinstance(body, str) else json.dumps(body)

    response = call(event)

    assert response["statusCode"] == 400
    error = response_json(response)["error"]
    assert error["code"] == "invalid_request" and error["message"]
    assert feedback_items(stack) == []


def test_feedback_for_a_malformed_image_id_is_400(call, load_event):
    event = load_event("record_feedback")
    event["pathParameters"] = {"image_id": "NOT-AN-ID"}
    event["path"] = "/predictions/NOT-AN-ID/feedback"

    response = call(event)

    assert (response["statusCode"], response_json(response)["error"]["code"]) == (400, "invalid_image_id")


# ---------------------------------------------------------------------------- a shopper's report
def report(call, load_event, **fields: Any) -> dict[str, Any]:
    event = load_event("record_feedback")
    event["body"] = json.dumps({"inappropriate": True, **fields})
    response = call(event)
    assert response["statusCode"] == 201, response
    return response_json(response)


def prediction(stack) -> dict[str, Any]:
    stored = PredictionTable(stack.table("PredictionsTable")).get(IMAGE_ID)
    return stored.to_item() if stored else {}


def review_queue(stack) -> list[str]:
    items, _ = PredictionTable(stack.table("PredictionsTable")).review_queue_page(100)
    return [item.image_id for item in items]


def test_a_report_of_an_allowed_photo_sends_it_to_review_keeping_the_models_verdict(
    stack, call, classified, load_event
):
    recorded = report(call, load_event)

    assert recorded["sent_to_review"] is True
    item = prediction(stack)
    assert (item["verdict"], item["model_verdict"], item["shopper_reports"]) == ("review", "allow", 1)
    assert item["verdict_reasons"][-1] == {"category": "reported_by_shopper", "action": "review"}
    assert review_queue(stack) == [IMAGE_ID]
    (stored,) = feedback_items(stack)
    assert stored["inappropriate"] is True and "correct_label" in stored


def test_reports_of_a_photo_a_moderator_allowed_are_counted_not_queued_again(stack, call, classified, load_event):
    table = PredictionTable(stack.table("PredictionsTable"))
    report(call, load_event, correct_label="kitchen knife")
    assert table.settle_review(IMAGE_ID, "allow", "a product photo", "2026-11-26T10:00:00.000Z", VERSION)
    settled = prediction(stack)
    # The moderator's decision does not overwrite the model's own verdict.
    assert (settled["verdict"], settled["model_verdict"]) == ("allow", "allow")

    again = [report(call, load_event) for _ in range(2)]

    assert [reply["sent_to_review"] for reply in again] == [False, False]
    item = prediction(stack)
    assert (item["verdict"], item["shopper_reports"]) == ("allow", 3)
    assert review_queue(stack) == []


def test_a_second_report_while_in_review_is_counted_once_in_the_queue(stack, call, classified, load_event):
    first, second = report(call, load_event), report(call, load_event)

    assert (first["sent_to_review"], second["sent_to_review"]) == (True, False)
    item = prediction(stack)
    assert item["shopper_reports"] == 2
    assert [reason["category"] for reason in item["verdict_reasons"]].count("reported_by_shopper") == 1
    assert review_queue(stack) == [IMAGE_ID]
