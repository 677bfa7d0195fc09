"""photomod_shared.predictions.PredictionTable against the template's table in moto: the conditional writes
that make classification idempotent."""

import pytest
from botocore.exceptions import ClientError

from photomod_shared import ids
from photomod_shared.predictions import EventStamp, PredictionTable, comparable_sequencer, prediction_view


@pytest.fixture
def table(stack) -> PredictionTable:
    return PredictionTable(stack.table("PredictionsTable"))


def test_a_pending_item_is_created_once(table):
    image_id = ids.new_image_id()
    table.create_pending({"image_id": image_id, "s3_key": f"uploads/{image_id}.jpg", "declared_size": 2048})

    with pytest.raises(ClientError) as raised:
        table.create_pending({"image_id": image_id, "s3_key": "overwritten"})

    assert raised.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert table.get(image_id) == {
        "image_id": image_id,
        "s3_key": f"uploads/{image_id}.jpg",
        "declared_size": 2048,
        "status": "pending",
    }


def test_get_of_an_unknown_image_is_none(table):
    assert table.get(ids.new_image_id()) is None


def test_only_a_newer_event_overwrites_a_result(table):
    image_id = ids.new_image_id()

    assert table.record_outcome(
        image_id, "0055AED6DCD90281E5", {"status": "done", "prediction": "tabby", "score": 0.5}, "t0"
    )
    assert not table.record_outcome(image_id, "0055AED6DCD90281E5", {"status": "done", "prediction": "duplicate"}, "t1")
    assert not table.record_outcome(image_id, "0055AED6DCD90281E4", {"status": "done", "prediction": "older"}, "t1")
    assert table.get(image_id)["prediction"] == "tabby"

    assert table.record_outcome(image_id, "0055AED6DCD90281E6", {"status": "failed", "prediction": None}, "t2")
    item = table.get(image_id)
    assert (item["status"], item["prediction"], item["score"]) == ("failed", None, 0.5)
    assert item["created_at"] == "t0"  # the first write's, kept
    assert item["sequencer"] == comparable_sequencer("0055AED6DCD90281E6")


def test_sequencers_of_different_lengths_are_ordered_by_value(table):
    image_id = ids.new_image_id()
    table.record_outcome(image_id, "0055AED6DCD90281E5", {"status": "done"}, "t0")

    # Right-padded, "...E500" is the same event as "...E5"; compared unpadded it would look newer and overwrite.
    assert not table.record_outcome(image_id, "0055AED6DCD90281E500", {"status": "failed"}, "t1")
    assert table.record_outcome(image_id, "0055AED6DCD90281E501", {"status": "failed"}, "t1")


def test_a_result_keeps_nested_labels_and_floats(table):
    image_id = ids.new_image_id()
    labels = [
        {"label": "tabby", "wnid": "n02123045", "score": 0.873451},
        {"label": "tiger_cat", "wnid": "n02123159", "score": 0.1},
    ]

    table.record_outcome(image_id, "01", {"status": "done", "labels": labels, "error": None}, "t0")

    assert table.get(image_id)["labels"] == labels


def test_fail_if_pending_ends_only_a_pending_item(table):
    pending, done, unknown = ids.new_image_id(), ids.new_image_id(), ids.new_image_id()
    table.create_pending({"image_id": pending})
    table.record_outcome(done, "01", {"status": "done"}, "t0")
    error = {"code": "upload_not_received", "message": "never arrived"}

    assert table.fail_if_pending(pending, error, "2026-11-26T10:00:00.000Z")
    assert not table.fail_if_pending(done, error, "2026-11-26T10:00:00.000Z")
    assert not table.fail_if_pending(unknown, error, "2026-11-26T10:00:00.000Z")
    assert not table.fail_if_pending(pending, {"code": "again", "message": "x"}, "later")  # already failed

    assert table.get(pending)["error"] == error and table.get(pending)["classified_at"] == "2026-11-26T10:00:00.000Z"
    assert table.get(done)["status"] == "done"
    assert table.get(unknown) is None


def test_stored_events_reads_many_images_at_once(table):
    with_result = [ids.new_image_id() for _ in range(130)]  # more than one BatchGetItem of 100 keys
    for position, image_id in enumerate(with_result):
        stamp = EventStamp(f"{position:04X}", "2026-11-26T09:14:09.512Z", f"v{position}")
        table.record_outcome(image_id, stamp, {"status": "done"}, "t0")
    pending, unknown = ids.new_image_id(), ids.new_image_id()
    table.create_pending({"image_id": pending})

    stored = table.stored_events([*with_result, pending, unknown])

    # A pending item has no result yet, so no event; an unknown image has nothing.
    assert {image_id: (stamp.order, stamp.object_version) for image_id, stamp in stored.items()} == {
        image_id: ((comparable_sequencer(f"{position:04X}"), "2026-11-26T09:14:09.512000Z"), f"v{position}")
        for position, image_id in enumerate(with_result)
    }


def test_stored_events_of_nothing_is_empty(table):
    assert table.stored_events([]) == {}


# --- object versions ----------------------------------------------------------------------------------


def test_a_result_records_the_version_it_judged(table):
    image_id = ids.new_image_id()

    table.record_outcome(image_id, EventStamp("01", "2026-11-26T09:14:09.512Z", "v1"), {"status": "done"}, "t0")

    item = table.get(image_id)
    assert item["object_version"] == "v1" and prediction_view(item)["object_version"] == "v1"


def test_with_a_constant_sequencer_a_later_event_time_replaces_an_earlier_one_and_not_the_reverse(table):
    image_id = ids.new_image_id()
    earlier = EventStamp("0", "2026-11-26T09:14:09.512Z", "v1")
    later = EventStamp("0", "2026-11-26T09:14:09.513Z", "v2")

    assert table.record_outcome(image_id, later, {"status": "done", "verdict": "block"}, "t0")
    assert not table.record_outcome(image_id, earlier, {"status": "done", "verdict": "allow"}, "t1")

    assert (table.get(image_id)["object_version"], table.get(image_id)["verdict"]) == ("v2", "block")


def test_same_sequencer_and_time_replaces_only_for_another_version_and_only_when_asked(table):
    image_id = ids.new_image_id()
    moment = "2026-11-26T09:14:09.512Z"
    table.record_outcome(image_id, EventStamp("0", moment, "v1"), {"status": "done"}, "t0")

    assert not table.record_outcome(image_id, EventStamp("0", moment, "v1"), {"status": "failed"}, "t1")
    assert not table.record_outcome(
        image_id, EventStamp("0", moment, None), {"status": "failed"}, "t1", replace_same_order=False
    )
    assert table.record_outcome(image_id, EventStamp("0", moment, "v2"), {"status": "done"}, "t1")
    assert table.get(image_id)["object_version"] == "v2"


def test_a_moderators_decision_applies_only_to_the_version_they_saw(table):
    image_id = ids.new_image_id()
    table.record_outcome(image_id, EventStamp("01", "", "v1"), {"status": "done", "verdict": "review"}, "t0")

    assert not table.settle_review(image_id, "allow", "", "t1", object_version="v0")
    assert table.settle_review(image_id, "allow", "", "t1", object_version="v1")
    assert table.get(image_id)["verdict"] == "allow"


def test_solo_attempts_are_counted_per_upload_and_cleared_by_a_result(table):
    image_id = ids.new_image_id()
    first = {"s3_key": "incoming/a.jpg", "source": "drop-folder"}

    assert table.count_solo_attempt(image_id, "upload-1", first) == 1
    item = table.get(image_id)
    assert (item["status"], item["s3_key"], item["solo_attempts"]) == ("pending", "incoming/a.jpg", 1)
    assert table.count_solo_attempt(image_id, "upload-1", first) == 2
    assert table.count_solo_attempt(image_id, "upload-2", first) == 1  # another upload starts over

    table.forget_solo_attempts(image_id)
    assert "solo_attempts" not in table.get(image_id)
    table.count_solo_attempt(image_id, "upload-2", first)
    table.record_outcome(image_id, EventStamp("01"), {"status": "done"}, "t0")
    assert "solo_attempts" not in table.get(image_id) and "solo_attempt_of" not in table.get(image_id)


def test_counting_a_solo_attempt_keeps_a_pending_uploads_fields(table):
    image_id = ids.new_image_id()
    table.create_pending({"image_id": image_id, "s3_key": f"uploads/{image_id}.jpg", "source": "upload"})

    table.count_solo_attempt(image_id, "upload-1", {"s3_key": "ignored", "source": "ignored"})

    item = table.get(image_id)
    assert (item["s3_key"], item["source"], item["status"]) == (f"uploads/{image_id}.jpg", "upload", "pending")


def test_forgetting_attempts_of_an_unknown_image_creates_nothing(table):
    image_id = ids.new_image_id()

    table.forget_solo_attempts(image_id)

    assert table.get(image_id) is None
