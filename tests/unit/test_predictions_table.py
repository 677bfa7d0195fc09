"""photomod_shared.prediction and .prediction_table: DynamoDB value conversion, S3 sequencer ordering and the
API view."""

from decimal import Decimal

import pytest

from photomod_shared.prediction import (
    SEQUENCER_WIDTH,
    STATUS_DONE,
    STATUS_PENDING,
    EventStamp,
    Prediction,
    comparable_event_time,
    comparable_sequencer,
)
from photomod_shared.prediction_table import from_dynamo, to_dynamo

# --- to_dynamo / from_dynamo -----------------------------------------------------------------------


def test_to_dynamo_turns_floats_into_decimals_recursively():
    item = {
        "score": 0.8734512345,
        "labels": [{"label": "golden_retriever", "score": 0.5}, {"label": "tabby", "score": 1e-7}],
        "pair": (0.25, "x"),
        "count": 3,
        "flag": True,
        "missing": None,
    }

    converted = to_dynamo(item)

    assert converted == {
        "score": Decimal("0.873451"),  # six decimals are plenty for a probability
        "labels": [{"label": "golden_retriever", "score": Decimal("0.5")}, {"label": "tabby", "score": Decimal("0.0")}],
        "pair": [Decimal("0.25"), "x"],
        "count": 3,
        "flag": True,
        "missing": None,
    }
    assert all(isinstance(label["score"], Decimal) for label in converted["labels"])


def test_to_dynamo_leaves_the_input_untouched():
    item = {"labels": [{"score": 0.5}]}

    to_dynamo(item)

    assert item == {"labels": [{"score": 0.5}]}


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (Decimal("3"), 3),
        (Decimal("10485760"), 10485760),
        (Decimal("0.5"), 0.5),
        (Decimal("0.873451"), 0.873451),
    ],
)
def test_from_dynamo_gives_ints_for_integers_and_floats_otherwise(stored, expected):
    value = from_dynamo(stored)

    assert value == expected
    assert type(value) is type(expected)


def test_from_dynamo_converts_nested_items():
    stored = {"labels": [{"score": Decimal("0.25")}], "declared_size": Decimal("2048"), "error": None}

    assert from_dynamo(stored) == {"labels": [{"score": 0.25}], "declared_size": 2048, "error": None}


def test_values_round_trip_through_dynamo_form():
    item = {"score": 0.9876, "labels": [{"label": "tabby", "score": 0.125}], "size": 7, "name": "x"}

    assert from_dynamo(to_dynamo(item)) == item


# --- comparable_sequencer --------------------------------------------------------------------------


def test_a_later_sequencer_compares_greater():
    assert comparable_sequencer("0055AED6DCD90281E6") > comparable_sequencer("0055AED6DCD90281E5")


def test_sequencers_of_different_lengths_are_right_padded_before_comparing():
    """AWS: "The sequencers can be of different lengths. ... first right pad the shorter value with zeros"."""
    shorter, longer = "0055AED6DC", "0055AED6DCD90281E5"

    # As plain strings the shorter one is a prefix and so compares smaller either way; padded it still does,
    # and a shorter sequencer equal to a longer one up to trailing zeros is the same event.
    assert comparable_sequencer(shorter) < comparable_sequencer(longer)
    assert comparable_sequencer("0055AED6DCD9") == comparable_sequencer("0055AED6DCD900")
    assert comparable_sequencer("0056") > comparable_sequencer("0055FFFFFFFFFFFFFF")


def test_comparable_sequencers_have_a_fixed_width_and_ignore_case():
    assert len(comparable_sequencer("0055aed6dcd90281e5")) == SEQUENCER_WIDTH
    assert comparable_sequencer("0055aed6dcd90281e5") == comparable_sequencer("0055AED6DCD90281E5")


def test_hex_letters_sort_after_digits_once_upper_cased():
    # "a" > "F" in ASCII: without upper-casing a lowercase sequencer would wrongly look newer.
    assert comparable_sequencer("00a0") > comparable_sequencer("0090")
    assert comparable_sequencer("00a0") < comparable_sequencer("00B0")


# --- EventStamp: which upload of a key is newer ---------------------------------------------------


def test_a_larger_sequencer_is_newer_whatever_the_event_times_say():
    older = EventStamp("0055AED6DCD90281E5", "2026-11-26T09:14:10.000Z", "v1")
    newer = EventStamp("0055AED6DCD90281E6", "2026-11-26T09:14:09.000Z", "v2")

    assert newer.compare(older) == 1 and older.compare(newer) == -1


def test_with_one_constant_sequencer_the_event_time_decides():
    """LocalStack sends the same sequencer in every notification."""
    first = EventStamp("0", "2026-11-26T09:14:09.999Z", "v1")
    second = EventStamp("0", "2026-11-26T09:14:10.001Z", "v2")

    assert second.compare(first) == 1 and first.compare(second) == -1


def test_event_times_are_compared_as_times_not_as_text():
    # Without milliseconds, or with an offset, the text sorts wrongly; the instants do not.
    assert EventStamp("0", "2026-11-26T09:14:10Z").compare(EventStamp("0", "2026-11-26T09:14:09.500Z")) == 1
    assert EventStamp("0", "2026-11-26T10:14:09.000+01:00").order == EventStamp("0", "2026-11-26T09:14:09Z").order
    assert comparable_event_time("not a time") == "" and comparable_event_time("") == ""


def test_same_sequencer_and_time_is_a_duplicate_only_for_the_same_or_an_unknown_version():
    stored = EventStamp("0", "2026-11-26T09:14:09.000Z", "v1")

    assert EventStamp("0", "2026-11-26T09:14:09.000Z", "v1").is_duplicate_of(stored)
    assert EventStamp("0", "2026-11-26T09:14:09.000Z", None).is_duplicate_of(stored)
    other = EventStamp("0", "2026-11-26T09:14:09.000Z", "v2")
    assert not other.is_duplicate_of(stored) and other.compare(stored) == 0  # the bucket decides (classify)


# --- Prediction.view -------------------------------------------------------------------------------


def prediction_view(item: dict) -> dict:
    return Prediction.from_item(item).view().model_dump(mode="json")


VIEW_FIELDS = {
    "image_id",
    "status",
    "prediction",
    "score",
    "labels",
    "verdict",
    "verdict_reasons",
    "policy_version",
    "model",
    "safety",
    "source",
    "s3_key",
    "object_version",
    "created_at",
    "classified_at",
    "error",
    "text",  # the text check's record (issue 20)
    "photo_bank",
    "faces",
}


def test_a_pending_item_has_the_full_shape_with_nulls_and_empty_lists():
    view = prediction_view({"image_id": "abc", "status": STATUS_PENDING, "s3_key": "uploads/abc.jpg"})

    assert set(view) == VIEW_FIELDS
    assert view["labels"] == [] and view["verdict_reasons"] == []
    assert view["prediction"] is None and view["verdict"] is None and view["error"] is None
    assert view["s3_key"] == "uploads/abc.jpg"


def test_internal_attributes_are_not_exposed():
    item = {
        "image_id": "abc",
        "status": STATUS_DONE,
        "sequencer": "0055AED6DCD90281E5".ljust(SEQUENCER_WIDTH, "0"),
        "object_etag": "5d41402abc4b2a76b9719d911017c592",
        "original_filename": "IMG_2043.jpg",
        "upload_expires_at": "2026-11-26T09:19:07.000Z",
        "prediction": "tabby",
        "score": 0.91,
    }

    view = prediction_view(item)

    assert set(view) == VIEW_FIELDS
    assert (view["prediction"], view["score"]) == ("tabby", 0.91)
