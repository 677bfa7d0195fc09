"""photomod_shared.predictions.PredictionTable against the template's table in moto: the conditional writes
that make classification idempotent."""

import pytest
from botocore.exceptions import ClientError

from photomod_shared import ids
from photomod_shared.predictions import PredictionTable, comparable_sequencer


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


def test_stored_sequencers_reads_many_images_at_once(table):
    with_result = [ids.new_image_id() for _ in range(130)]  # more than one BatchGetItem of 100 keys
    for position, image_id in enumerate(with_result):
        table.record_outcome(image_id, f"{position:04X}", {"status": "done"}, "t0")
    pending, unknown = ids.new_image_id(), ids.new_image_id()
    table.create_pending({"image_id": pending})

    stored = table.stored_sequencers([*with_result, pending, unknown])

    # A pending item has no result yet, so no sequencer; an unknown image has nothing.
    assert stored == {
        image_id: comparable_sequencer(f"{position:04X}") for position, image_id in enumerate(with_result)
    }


def test_stored_sequencers_of_nothing_is_empty(table):
    assert table.stored_sequencers([]) == {}
