"""photomod_shared.prediction.Prediction: the one shape of a photo's record, its item and its API view."""

import typing

import pytest

from photomod_shared import ids
from photomod_shared.errors import ImageNotFound, InvalidInput
from photomod_shared.prediction import STATUSES, Failure, Prediction, find_prediction
from upload.models import PredictionView

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
    }


def test_the_view_is_what_the_api_documents():
    view = Prediction.pending(IMAGE_ID, s3_key=KEY, source="upload").view()

    assert list(view) == list(PredictionView.model_fields)
    assert set(typing.get_args(PredictionView.model_fields["status"].annotation)) == set(STATUSES)
    assert view["labels"] == [] and view["verdict_reasons"] == [] and view["error"] is None


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
