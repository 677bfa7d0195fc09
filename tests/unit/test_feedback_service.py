"""feedback.service and the feedback tables (photomod_shared.tables.feedback) with fakes: a correction is stored
next to what the model said."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from feedback.limits import DEFAULT_HIDES_PER_ADDRESS as REPORT_HIDES_PER_ADDRESS
from feedback.limits import REPORT_WINDOW_SECONDS
from feedback.models import FeedbackRequest
from feedback.service import record_feedback
from photomod_shared.errors import ImageNotFound, InvalidInput
from photomod_shared.prediction import Prediction
from photomod_shared.tables import FeedbackTable

NOW = datetime(2026, 11, 26, 9, 30, 0, 125000, tzinfo=UTC)
IMAGE_ID = "9f2c1e4b7a6d4c3e8b1a0f9e8d7c6b5a"
DONE = {
    "image_id": IMAGE_ID,
    "status": "done",
    "s3_key": f"uploads/{IMAGE_ID}.jpg",
    "prediction": "clog",
    "score": 0.8125,
    "verdict": "allow",
    "labels": [{"label": "clog", "wnid": "n03047690", "score": 0.8125}],
}


class FakePredictions:
    def __init__(self, *items: dict[str, Any], queues_reports: bool = True):
        self.items = {item["image_id"]: item for item in items}
        self.reports: list[tuple[str, str]] = []
        self.queues_reports = queues_reports
        self.may_hide: list[bool] = []

    def get(self, image_id: str) -> Prediction | None:
        item = self.items.get(image_id)
        return Prediction.from_item(item) if item else None

    def report_by_shopper(self, image_id: str, reported_at: str, *, may_hide: bool = True) -> bool:
        self.reports.append((image_id, reported_at))
        self.may_hide.append(may_hide)
        return self.queues_reports and may_hide


class FakeFeedbackStore:
    def __init__(self) -> None:
        self.added: list[dict[str, Any]] = []

    def add(self, item: dict[str, Any]) -> None:
        self.added.append(item)


def record(image_id: str, request: FeedbackRequest, predictions: FakePredictions, store: FakeFeedbackStore):
    return record_feedback(image_id, request, predictions=predictions, feedback=store, now=NOW)


def test_feedback_is_stored_with_what_the_model_said():
    store = FakeFeedbackStore()
    request = FeedbackRequest(correct_label="running shoe", comment="It is a trainer.", inappropriate=False)

    recorded = record(IMAGE_ID, request, FakePredictions(DONE), store)

    assert recorded == {
        "feedback_id": store.added[0]["feedback_id"],
        "image_id": IMAGE_ID,
        "created_at": "2026-11-26T09:30:00.125Z",
        "sent_to_review": False,
    }
    assert store.added == [
        {
            "image_id": IMAGE_ID,
            "feedback_id": recorded["feedback_id"],
            "s3_key": f"uploads/{IMAGE_ID}.jpg",
            "prediction": "clog",
            "score": 0.8125,
            "verdict": "allow",
            "safety": None,
            "verdict_reasons": [],
            "text": None,
            "status_at_feedback": "done",
            "correct_label": "running shoe",
            "comment": "It is a trainer.",
            "inappropriate": False,
            "over_report_limit": False,
            "created_at": "2026-11-26T09:30:00.125Z",
        }
    ]


def test_feedback_ids_sort_by_time_and_never_collide_within_a_millisecond():
    store = FakeFeedbackStore()
    request = FeedbackRequest(correct_label="running shoe")

    first = record(IMAGE_ID, request, FakePredictions(DONE), store)["feedback_id"]
    second = record(IMAGE_ID, request, FakePredictions(DONE), store)["feedback_id"]

    assert first != second
    assert first.startswith("2026-11-26T09:30:00.125Z#") and second.startswith("2026-11-26T09:30:00.125Z#")


def test_feedback_on_a_pending_image_is_kept_with_the_status_the_shopper_saw():
    store = FakeFeedbackStore()
    pending = {"image_id": IMAGE_ID, "status": "pending", "s3_key": f"uploads/{IMAGE_ID}.jpg"}

    record(IMAGE_ID, FeedbackRequest(correct_label="shoe", inappropriate=True), FakePredictions(pending), store)

    assert store.added[0]["status_at_feedback"] == "pending"
    assert store.added[0]["prediction"] is None and store.added[0]["inappropriate"] is True


def test_a_report_of_a_classified_photo_goes_to_the_predictions_table_after_the_feedback_is_stored():
    store, predictions = FakeFeedbackStore(), FakePredictions(DONE)

    recorded = record(IMAGE_ID, FeedbackRequest(inappropriate=True), predictions, store)

    assert recorded["sent_to_review"] is True
    assert predictions.reports == [(IMAGE_ID, "2026-11-26T09:30:00.125Z")]
    assert store.added[0]["inappropriate"] is True and store.added[0]["correct_label"] == ""


def test_a_report_the_table_only_counts_is_not_said_to_have_gone_to_review():
    predictions = FakePredictions(DONE, queues_reports=False)

    recorded = record(
        IMAGE_ID, FeedbackRequest(correct_label="knife", inappropriate=True), predictions, FakeFeedbackStore()
    )

    assert recorded["sent_to_review"] is False and len(predictions.reports) == 1


def test_a_correction_without_a_report_leaves_the_verdict_alone():
    predictions = FakePredictions(DONE)

    record(IMAGE_ID, FeedbackRequest(correct_label="running shoe"), predictions, FakeFeedbackStore())

    assert predictions.reports == []


def test_a_report_of_a_pending_photo_is_stored_but_not_queued():
    pending = {"image_id": IMAGE_ID, "status": "pending", "s3_key": f"uploads/{IMAGE_ID}.jpg"}
    predictions = FakePredictions(pending)

    recorded = record(IMAGE_ID, FeedbackRequest(inappropriate=True), predictions, FakeFeedbackStore())

    assert recorded["sent_to_review"] is False and predictions.reports == []


def test_feedback_for_an_unknown_image_is_404_and_stores_nothing():
    store = FakeFeedbackStore()

    with pytest.raises(ImageNotFound) as raised:
        record(IMAGE_ID, FeedbackRequest(correct_label="shoe"), FakePredictions(), store)

    assert raised.value.code == "image_not_found"
    assert store.added == []


@pytest.mark.parametrize("image_id", ["nope", IMAGE_ID.upper(), IMAGE_ID + "00"])
def test_feedback_for_a_malformed_id_is_400(image_id):
    with pytest.raises(InvalidInput) as raised:
        record(image_id, FeedbackRequest(correct_label="shoe"), FakePredictions(DONE), FakeFeedbackStore())

    assert raised.value.code == "invalid_image_id"


def test_request_defaults_and_whitespace_stripping():
    request = FeedbackRequest(correct_label="  running shoe  ")

    assert (request.correct_label, request.comment, request.inappropriate) == ("running shoe", "", False)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"correct_label": ""},
        {"correct_label": "   "},
        {"correct_label": "shoe\r\nX-Injected: 1"},
        {"correct_label": "x" * 201},
        {"correct_label": "shoe", "comment": "x" * 1001},
        {"correct_label": "shoe", "inappropriate": "perhaps"},
        {"correct_label": "shoe", "rating": 5},
        {"inappropriate": False},
        {"correct_label": "  ", "inappropriate": False},
    ],
)
def test_invalid_feedback_is_rejected(fields):
    with pytest.raises(ValidationError):
        FeedbackRequest(**fields)


class FakeTable:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put_item(self, Item: dict[str, Any]) -> None:  # noqa: N803 - boto3's name
        self.items.append(Item)


def test_feedback_table_drops_nulls_and_stores_scores_as_decimals():
    table = FakeTable()

    FeedbackTable(table).add({"image_id": IMAGE_ID, "feedback_id": "f", "prediction": None, "score": 0.8125})

    assert table.items == [{"image_id": IMAGE_ID, "feedback_id": "f", "score": Decimal("0.8125")}]


class FakeQuota:
    """Behaves like ReportQuotaTable: a counter per key, refused (and not counted) at the limit."""

    def __init__(self) -> None:
        self.used: dict[str, int] = {}

    def take(self, key: str, limit: int, expires_at: int) -> bool:
        if self.used.get(key, 0) >= limit:
            return False
        self.used[key] = self.used.get(key, 0) + 1
        return True


def report(image_id: str, predictions: FakePredictions, quota: FakeQuota, source_ip: str, now: datetime = NOW):
    request = FeedbackRequest(inappropriate=True)
    return record_feedback(
        image_id,
        request,
        predictions=predictions,
        feedback=FakeFeedbackStore(),
        now=now,
        source_ip=source_ip,
        quota=quota,
    )


def test_one_address_hides_at_most_the_limit_per_window_and_every_report_is_still_counted():
    photos = [f"{number:032x}" for number in range(REPORT_HIDES_PER_ADDRESS + 2)]
    predictions = FakePredictions(*({**DONE, "image_id": photo} for photo in photos))
    quota = FakeQuota()

    sent = [report(photo, predictions, quota, "203.0.113.9")["sent_to_review"] for photo in photos]
    other_address = report(photos[-1], predictions, quota, "198.51.100.7")["sent_to_review"]
    next_hour = report(
        photos[-2],
        predictions,
        quota,
        "203.0.113.9",
        now=datetime.fromtimestamp(NOW.timestamp() + REPORT_WINDOW_SECONDS, UTC),
    )["sent_to_review"]

    assert sent == [True] * REPORT_HIDES_PER_ADDRESS + [False, False]
    assert len(predictions.reports) == len(photos) + 2  # every report counted
    assert other_address is True and next_hour is True


def test_a_report_that_would_hide_nothing_spends_no_quota():
    predictions = FakePredictions(
        {**DONE, "verdict": "review"}, {**DONE, "image_id": "1" * 32, "moderation": {"decision": "allow"}}
    )
    quota = FakeQuota()

    for _ in range(REPORT_HIDES_PER_ADDRESS + 1):
        report(IMAGE_ID, predictions, quota, "203.0.113.9")
        report("1" * 32, predictions, quota, "203.0.113.9")

    assert quota.used == {}


def test_the_address_is_stored_only_as_a_hash():
    quota = FakeQuota()

    report(IMAGE_ID, FakePredictions(DONE), quota, "203.0.113.9")

    (key,) = quota.used
    assert "203.0.113.9" not in key and key.startswith("address#")


def test_a_report_that_sends_the_photo_to_review_unpublishes_it_and_a_counted_one_does_not():
    from tests.support.publishing import RecordingPublisher

    queued, counted = RecordingPublisher(), RecordingPublisher()
    report = FeedbackRequest(inappropriate=True)

    record_feedback(
        IMAGE_ID, report, predictions=FakePredictions(DONE), feedback=FakeFeedbackStore(), now=NOW, publisher=queued
    )
    record_feedback(
        IMAGE_ID,
        report,
        predictions=FakePredictions(DONE, queues_reports=False),
        feedback=FakeFeedbackStore(),
        now=NOW,
        publisher=counted,
    )

    assert queued.calls == [("unpublish", IMAGE_ID)]
    assert counted.calls == []  # a moderator's allow stands: the photo stays published
