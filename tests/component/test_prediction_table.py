"""photomod_shared.tables.PredictionTable against the template's table in moto: the conditional writes
that make classification idempotent."""

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from photomod_shared import ids
from photomod_shared.prediction import EventStamp, Failure, Prediction, comparable_sequencer
from photomod_shared.prediction_table import from_dynamo
from photomod_shared.tables import PredictionTable


@pytest.fixture
def table(stack) -> PredictionTable:
    return PredictionTable(stack.table("PredictionsTable"))


@pytest.fixture
def stored(stack) -> Callable[[str], dict[str, Any] | None]:
    """The item as stored, the table's own bookkeeping attributes included."""

    def read(image_id: str) -> dict[str, Any] | None:
        item = stack.table("PredictionsTable").get_item(Key={"image_id": image_id}, ConsistentRead=True).get("Item")
        return from_dynamo(item) if item else None

    return read


def result(image_id: str, attributes: dict[str, Any]) -> Prediction:
    return Prediction.from_item({"image_id": image_id, **attributes})


def test_a_pending_item_is_created_once(table, stored):
    image_id = ids.new_image_id()
    first = Prediction(image_id, "pending", s3_key=f"uploads/{image_id}.jpg", declared_size=2048, created_at="t0")
    table.create_pending(first)

    with pytest.raises(ClientError) as raised:
        table.create_pending(Prediction(image_id, "pending", s3_key="overwritten", created_at="t1"))

    assert raised.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert table.get(image_id) == first
    assert stored(image_id) == {
        "image_id": image_id,
        "s3_key": f"uploads/{image_id}.jpg",
        "declared_size": 2048,
        "created_at": "t0",
        "status": "pending",
        # The reconciler's sparse index of pending rows, sorted by when it was created.
        "pending_queue": "pending",
        "pending_checked_at": "t0",
    }


def test_get_of_an_unknown_image_is_none(table):
    assert table.get(ids.new_image_id()) is None


def test_only_a_newer_event_overwrites_a_result(table, stored):
    image_id = ids.new_image_id()

    assert table.record_outcome(
        result(image_id, {"status": "done", "prediction": "tabby", "score": 0.5}), "0055AED6DCD90281E5", "t0"
    )
    assert not table.record_outcome(
        result(image_id, {"status": "done", "prediction": "duplicate"}), "0055AED6DCD90281E5", "t1"
    )
    assert not table.record_outcome(
        result(image_id, {"status": "done", "prediction": "older"}), "0055AED6DCD90281E4", "t1"
    )
    assert stored(image_id)["prediction"] == "tabby"

    assert table.record_outcome(result(image_id, {"status": "failed"}), "0055AED6DCD90281E6", "t2")
    item = stored(image_id)
    assert (item["status"], item["score"], item["prediction"]) == ("failed", None, None)  # nothing of the older one
    assert item["created_at"] == "t0"  # the first write's, kept
    assert item["sequencer"] == comparable_sequencer("0055AED6DCD90281E6")


def test_sequencers_of_different_lengths_are_ordered_by_value(table):
    image_id = ids.new_image_id()
    table.record_outcome(result(image_id, {"status": "done"}), "0055AED6DCD90281E5", "t0")

    # Right-padded, "...E500" is the same event as "...E5"; compared unpadded it would look newer and overwrite.
    assert not table.record_outcome(result(image_id, {"status": "failed"}), "0055AED6DCD90281E500", "t1")
    assert table.record_outcome(result(image_id, {"status": "failed"}), "0055AED6DCD90281E501", "t1")


def test_a_result_keeps_nested_labels_and_floats(table, stored):
    image_id = ids.new_image_id()
    labels = [
        {"label": "tabby", "wnid": "n02123045", "score": 0.873451},
        {"label": "tiger_cat", "wnid": "n02123159", "score": 0.1},
    ]

    table.record_outcome(result(image_id, {"status": "done", "labels": labels, "error": None}), "01", "t0")

    assert stored(image_id)["labels"] == labels


def test_fail_if_pending_ends_only_a_pending_item(table, stored):
    pending, done, unknown = ids.new_image_id(), ids.new_image_id(), ids.new_image_id()
    table.create_pending(Prediction.pending(pending, s3_key=f"uploads/{pending}.jpg", source="upload", created_at="t0"))
    table.record_outcome(result(done, {"status": "done"}), "01", "t0")
    error = Failure("upload_not_received", "never arrived")

    assert table.fail_if_pending(pending, error, "2026-11-26T10:00:00.000Z")
    assert not table.fail_if_pending(done, error, "2026-11-26T10:00:00.000Z")
    assert not table.fail_if_pending(unknown, error, "2026-11-26T10:00:00.000Z")
    assert not table.fail_if_pending(pending, Failure("again", "x"), "later")  # already failed

    assert (
        stored(pending)["error"] == error.to_dict() and stored(pending)["classified_at"] == "2026-11-26T10:00:00.000Z"
    )
    assert stored(done)["status"] == "done"
    assert table.get(unknown) is None


def test_stored_events_reads_many_images_at_once(table):
    with_result = [ids.new_image_id() for _ in range(130)]  # more than one BatchGetItem of 100 keys
    for position, image_id in enumerate(with_result):
        stamp = EventStamp(f"{position:04X}", "2026-11-26T09:14:09.512Z", f"v{position}")
        table.record_outcome(result(image_id, {"status": "done"}), stamp, "t0")
    pending, unknown = ids.new_image_id(), ids.new_image_id()
    table.create_pending(Prediction.pending(pending, s3_key=f"uploads/{pending}.jpg", source="upload", created_at="t0"))

    stored = table.stored_events([*with_result, pending, unknown])

    # A pending item has no result yet, so no event; an unknown image has nothing.
    assert {image_id: (stamp.order, stamp.object_version) for image_id, stamp in stored.items()} == {
        image_id: ((comparable_sequencer(f"{position:04X}"), "2026-11-26T09:14:09.512000Z"), f"v{position}")
        for position, image_id in enumerate(with_result)
    }


def test_stored_events_of_nothing_is_empty(table):
    assert table.stored_events([]) == {}


# --- object versions ----------------------------------------------------------------------------------


def test_a_result_records_the_version_it_judged(table, stored):
    image_id = ids.new_image_id()

    table.record_outcome(result(image_id, {"status": "done"}), EventStamp("01", "2026-11-26T09:14:09.512Z", "v1"), "t0")

    item = stored(image_id)
    assert (
        item["object_version"] == "v1" and table.get(image_id).view().model_dump(mode="json")["object_version"] == "v1"
    )


def test_with_a_constant_sequencer_a_later_event_time_replaces_an_earlier_one_and_not_the_reverse(table, stored):
    image_id = ids.new_image_id()
    earlier = EventStamp("0", "2026-11-26T09:14:09.512Z", "v1")
    later = EventStamp("0", "2026-11-26T09:14:09.513Z", "v2")

    assert table.record_outcome(result(image_id, {"status": "done", "verdict": "block"}), later, "t0")
    assert not table.record_outcome(result(image_id, {"status": "done", "verdict": "allow"}), earlier, "t1")

    assert (stored(image_id)["object_version"], stored(image_id)["verdict"]) == ("v2", "block")


def test_same_sequencer_and_time_replaces_only_for_another_version_and_only_when_asked(table, stored):
    image_id = ids.new_image_id()
    moment = "2026-11-26T09:14:09.512Z"
    table.record_outcome(result(image_id, {"status": "done"}), EventStamp("0", moment, "v1"), "t0")

    assert not table.record_outcome(result(image_id, {"status": "failed"}), EventStamp("0", moment, "v1"), "t1")
    assert not table.record_outcome(
        result(image_id, {"status": "failed"}), EventStamp("0", moment, None), "t1", replace_same_order=False
    )
    assert table.record_outcome(result(image_id, {"status": "done"}), EventStamp("0", moment, "v2"), "t1")
    assert stored(image_id)["object_version"] == "v2"


def test_a_moderators_decision_applies_only_to_the_version_they_saw(table, stored):
    image_id = ids.new_image_id()
    table.record_outcome(result(image_id, {"status": "done", "verdict": "review"}), EventStamp("01", "", "v1"), "t0")

    assert not table.settle_review(image_id, "allow", "", "t1", object_version="v0")
    assert table.settle_review(image_id, "allow", "", "t1", object_version="v1")
    assert stored(image_id)["verdict"] == "allow"


def test_solo_attempts_are_counted_per_upload_and_cleared_by_a_result(table, stored):
    image_id = ids.new_image_id()
    first = Prediction.pending(image_id, s3_key="incoming/a.jpg", source="drop-folder")

    assert table.count_solo_attempt("upload-1", first) == 1
    item = stored(image_id)
    assert (item["status"], item["s3_key"], item["solo_attempts"]) == ("pending", "incoming/a.jpg", 1)
    assert table.count_solo_attempt("upload-1", first) == 2
    assert table.count_solo_attempt("upload-2", first) == 1  # another upload starts over

    table.forget_solo_attempts(image_id)
    assert "solo_attempts" not in stored(image_id)
    table.count_solo_attempt("upload-2", first)
    table.record_outcome(result(image_id, {"status": "done"}), EventStamp("01"), "t0")
    assert "solo_attempts" not in stored(image_id) and "solo_attempt_of" not in stored(image_id)


def test_counting_a_solo_attempt_keeps_a_pending_uploads_fields(table, stored):
    image_id = ids.new_image_id()
    table.create_pending(
        Prediction.pending(image_id, s3_key=f"uploads/{image_id}.jpg", source="upload", created_at="t0")
    )

    table.count_solo_attempt("upload-1", Prediction.pending(image_id, s3_key="ignored", source="ignored"))

    item = stored(image_id)
    assert (item["s3_key"], item["source"], item["status"]) == (f"uploads/{image_id}.jpg", "upload", "pending")


def test_forgetting_attempts_of_an_unknown_image_creates_nothing(table):
    image_id = ids.new_image_id()

    table.forget_solo_attempts(image_id)

    assert table.get(image_id) is None


def test_a_moderators_decision_survives_any_later_event_of_the_same_version(table, stored):
    image_id = ids.new_image_id()
    resent = EventStamp("0", "2026-11-26T09:30:00.000Z", "v1")  # the reconciler's re-send judged it first
    table.record_outcome(result(image_id, {"status": "done", "verdict": "review"}), resent, "t0")
    assert table.settle_review(image_id, "block", "", "t1", object_version="v1")

    for later in (EventStamp("0", "2026-11-26T09:45:00.000Z", "v1"), EventStamp("0055AED6DC", "", "v1")):
        assert not table.record_outcome(result(image_id, {"status": "done", "verdict": "allow"}), later, "t2")

    item = stored(image_id)
    assert (item["verdict"], item["moderation"]["decision"]) == ("block", "block")
    # A new version is judged anew, and the decision on the old one no longer applies.
    assert table.record_outcome(result(image_id, {"status": "failed"}), EventStamp("0055AED6DD", "", "v2"), "t3")
    item = stored(image_id)
    assert (item["status"], item["object_version"], item["verdict"]) == ("failed", "v2", None)
    assert "moderation" not in item and "model_verdict" not in item


def test_a_result_without_a_version_replaces_by_order_alone(table, stored):
    image_id = ids.new_image_id()
    table.record_outcome(result(image_id, {"status": "done"}), EventStamp("01", "", None), "t0")

    assert table.record_outcome(result(image_id, {"status": "done"}), EventStamp("02", "", "v2"), "t1")
    assert stored(image_id)["object_version"] == "v2"
