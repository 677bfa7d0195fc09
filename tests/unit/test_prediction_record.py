"""photomod_shared.prediction: the one typed shape of a photo's record, its stored item and its API view."""

import json
import typing

import pytest

from photomod_shared import ids
from photomod_shared.errors import ImageNotFound, InvalidInput
from photomod_shared.prediction import STATUSES, Failure, Prediction, PredictionView, find_prediction

IMAGE_ID = "9f2c1e4b7a6d4c3e8b1a0f9e8d7c6b5a"
KEY = f"uploads/{IMAGE_ID}.jpg"


def done(**fields) -> Prediction:
    return Prediction.done(
        IMAGE_ID,
        s3_key=KEY,
        prediction="tabby",
        score=0.91,
        labels=[{"label": "tabby", "wnid": "n02123045", "score": 0.91}],
        verdict="allow",
        verdict_reasons=[],
        policy_version="2026-11-01",
        model={"name": "ResNet50", "weights": "untrained"},
        safety=None,
        **fields,
    )


def test_a_pending_record_stores_only_what_its_writer_knows():
    pending = Prediction.pending(IMAGE_ID, s3_key=KEY, source=ids.SOURCE_UPLOAD, created_at="t0", declared_size=10)

    assert pending.to_item() == {
        "image_id": IMAGE_ID,
        "status": "pending",
        "s3_key": KEY,
        "source": "upload",
        "created_at": "t0",
        "declared_size": 10,
    }


def test_a_record_round_trips_through_its_item_and_skips_the_tables_bookkeeping():
    failed = Prediction.failed(
        IMAGE_ID, s3_key=KEY, error=Failure("corrupt_image", "cannot decode"), classified_at="t1"
    )
    item = {**failed.to_item(), "sequencer": "01", "review_queue": "review", "solo_attempts": 2}

    assert Prediction.from_item(item) == failed
    assert item["error"] == {"code": "corrupt_image", "message": "cannot decode"}


def test_the_source_follows_from_the_key():
    assert done().source == ids.SOURCE_UPLOAD
    assert Prediction.failed(IMAGE_ID, s3_key="incoming/a.jpg", error=None).source == ids.SOURCE_DROP_FOLDER


def test_a_done_outcome_sets_every_result_field_so_nothing_of_an_older_result_survives():
    outcome = done(object_etag="etag", classified_at="t2").outcome()

    assert outcome["status"] == "done"
    assert outcome["error"] is None and outcome["safety"] is None  # nulls written: they replace an older upload's
    assert "image_id" not in outcome and "object_version" not in outcome  # the key, and the event's (the table's)


def test_a_failed_outcome_clears_every_result_field_of_an_older_version():
    outcome = Prediction.failed(IMAGE_ID, s3_key=KEY, error=Failure("retries_exhausted", "gave up")).outcome()

    assert outcome == {
        "status": "failed",
        "s3_key": KEY,
        "source": "upload",
        "error": {"code": "retries_exhausted", "message": "gave up"},
        # Nulls written: an older version's verdict, labels and safety scores never sit beside this failure.
        "prediction": None,
        "score": None,
        "labels": [],
        "verdict": None,
        "verdict_reasons": [],
        "policy_version": None,
        "model": None,
        "safety": None,
        "text": None,  # the text check's record (an older version's text must not describe this one)
        "photo_bank": None,
        "faces": None,
    }


def answer(prediction: Prediction) -> dict:
    """The JSON body a client gets: the view serialised as Powertools serialises a route's response model."""
    return json.loads(json.dumps(prediction.view().model_dump(mode="json")))


def test_the_view_is_the_records_own_fields_so_none_can_be_added_to_the_api_alone():
    # The view is the routes' response model (the OpenAPI document is generated from it) and view() reads each of
    # its fields from the record by name: a field only the view had would fail here and at every answer.
    assert set(PredictionView.model_fields) <= set(Prediction.model_fields)
    for name, field in PredictionView.model_fields.items():
        record_type = Prediction.model_fields[name].annotation
        assert field.annotation == record_type or typing.get_args(record_type)[0] == field.annotation, name
    assert set(typing.get_args(PredictionView.model_fields["status"].annotation)) == set(STATUSES)


def test_a_pending_answer_has_every_key_with_nulls_and_empty_lists():
    body = answer(Prediction.pending(IMAGE_ID, s3_key=KEY, source="upload"))

    assert list(body) == [
        "image_id", "status", "prediction", "score", "labels", "verdict", "verdict_reasons", "policy_version",
        "model", "safety", "source", "s3_key", "object_version", "created_at", "classified_at", "error",
        "text", "photo_bank",
        "faces",
    ]  # fmt: skip
    assert body["labels"] == [] and body["verdict_reasons"] == [] and body["error"] is None
    assert body["status"] == "pending" and body["safety"] is None and body["source"] == "upload"


# A row as an older classifier stored it and DynamoDB returns it: safety without second_opinion (it came later),
# a shopper's reason without label/wnid/score, a policy reason without rule, and scores trimmed to integers.
OLD_ROW = {
    "image_id": IMAGE_ID,
    "status": "done",
    "s3_key": KEY,
    "source": "upload",
    "prediction": "tabby",
    "score": 1,
    "labels": [{"label": "tabby", "wnid": "n02123045", "score": 1}],
    "verdict": "review",
    "verdict_reasons": [
        {"category": "explicit", "action": "review", "label": "sexy", "wnid": None, "score": 0.75},
        {"category": "reported_by_shopper", "action": "review"},
    ],
    "policy_version": "2026-11-01",
    "model": {"name": "ResNet50", "weights": "untrained"},
    "safety": {
        "top_class": "sexy",
        "probabilities": {"drawing": 0, "hentai": 0.05, "neutral": 0.2, "porn": 0, "sexy": 0.75},
        "model": {"name": "nsfwjs-MobileNetV2", "version": "4.4.0"},
    },
    "object_version": "v1",
    "classified_at": "t1",
    "sequencer": "0A",
    "review_queue": "review",
}


def test_a_row_stored_before_a_key_existed_answers_exactly_as_it_was_stored():
    row = Prediction.from_item(OLD_ROW)
    body = answer(row)

    assert "second_opinion" not in body["safety"]  # not made null: the row never had one
    assert body["safety"] == OLD_ROW["safety"] and body["verdict_reasons"] == OLD_ROW["verdict_reasons"]
    assert body["labels"] == OLD_ROW["labels"] and body["model"] == OLD_ROW["model"]
    # DynamoDB's 1 stays 1 (not 1.0) and 0 stays 0, as the API answered them before the schema was typed.
    assert json.dumps(body["score"]) == "1" and json.dumps(body["safety"]["probabilities"]["porn"]) == "0"
    stored = {name: value for name, value in OLD_ROW.items() if name not in ("sequencer", "review_queue")}
    assert row.to_item() == stored  # read and written back, the item keeps its shape: no migration


def test_a_given_null_stays_null_and_an_unknown_shape_is_refused():
    row = Prediction.from_item({**OLD_ROW, "safety": {**OLD_ROW["safety"], "second_opinion": None}})

    assert answer(row)["safety"]["second_opinion"] is None
    with pytest.raises(ValueError):
        Prediction.from_item({**OLD_ROW, "labels": [{"label": "tabby"}]})


class Lookup:
    def __init__(self, *predictions: Prediction):
        self.predictions = {prediction.image_id: prediction for prediction in predictions}

    def get(self, image_id: str) -> Prediction | None:
        return self.predictions.get(image_id)


def test_find_prediction_refuses_a_malformed_id_and_an_unknown_one():
    with pytest.raises(InvalidInput) as malformed:
        find_prediction("../x", Lookup())
    with pytest.raises(ImageNotFound):
        find_prediction(IMAGE_ID, Lookup())

    assert malformed.value.code == "invalid_image_id"
    assert find_prediction(IMAGE_ID, Lookup(done())) == done()
