"""classify.service.classify_messages with a fake model, photo reader and predictions store.

The photos are real (tiny JPEGs), so decoding is exercised; the fake model reads each row's dominant colour
and returns a fixed probability vector for it, which also shows that every row lands on its own photo.
"""

import io
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import numpy as np
import pytest
from PIL import Image

from classify.labels import ClassIndex
from classify.model import ModelInfo
from classify.policy import ModerationPolicy
from classify.safety import SafetyInfo, preprocess_for_safety
from classify.service import Classification, Message, ObjectMissing, classify_messages
from photomod_shared import ids
from photomod_shared.predictions import STATUS_DONE, STATUS_FAILED, comparable_sequencer

BUCKET = "photomod-local-images-123456789012"
NOW = datetime(2026, 11, 26, 9, 14, 12, tzinfo=UTC)
RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)
# What the fake model "sees" in a photo of each colour.
SCORES_BY_COLOUR = {RED: {"tabby": 0.9}, GREEN: {"revolver": 0.8}, BLUE: {"beer_bottle": 0.6, "beer_glass": 0.2}}


@pytest.fixture(scope="module")
def class_index() -> ClassIndex:
    return ClassIndex.from_file()


@pytest.fixture(scope="module")
def policy(class_index) -> ModerationPolicy:
    return ModerationPolicy.from_file(class_index=class_index)


def jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def probabilities(class_index: ClassIndex, scores: dict[str, float]) -> np.ndarray:
    vector = np.full(len(class_index), (1.0 - sum(scores.values())) / (len(class_index) - len(scores)), np.float32)
    for label, score in scores.items():
        vector[class_index.index_of(label)] = score
    return vector


class FakeModel:
    info = ModelInfo("ResNet50", "imagenet")

    def __init__(self, class_index: ClassIndex):
        self._vectors = {colour: probabilities(class_index, scores) for colour, scores in SCORES_BY_COLOUR.items()}
        self.batches: list[tuple[int, ...]] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch.shape)
        # The preprocessed rows are BGR: channel 2 dominates for red, 1 for green, 0 for blue.
        dominant = batch.reshape(len(batch), -1, 3).mean(axis=1).argmax(axis=1)
        colours = {2: RED, 1: GREEN, 0: BLUE}
        return np.stack([self._vectors[colours[int(channel)]] for channel in dominant])


class FakePhotos:
    def __init__(self, objects: dict[str, bytes | Exception]):
        self.objects = objects
        self.reads: list[str] = []

    def read(self, bucket: str, key: str) -> bytes:
        assert bucket == BUCKET
        self.reads.append(key)
        found = self.objects.get(key, ObjectMissing(key))
        if isinstance(found, Exception):
            raise found
        return found


class FakePredictions:
    """Applies the same condition as PredictionTable.record_outcome: only a newer sequencer overwrites."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self.lookups: list[list[str]] = []
        self.broken_reads = False
        self.broken_writes: set[str] = set()

    def stored_sequencers(self, image_ids: list[str]) -> dict[str, str]:
        self.lookups.append(list(image_ids))
        if self.broken_reads:
            raise ConnectionError("dynamodb unreachable")
        return {
            image_id: self.items[image_id]["sequencer"]
            for image_id in image_ids
            if "sequencer" in self.items.get(image_id, {})
        }

    def record_outcome(self, image_id: str, sequencer: str, attributes: dict[str, Any], created_at: str) -> bool:
        if image_id in self.broken_writes:
            raise ConnectionError("dynamodb unreachable")
        stored = self.items.get(image_id, {}).get("sequencer")
        if stored is not None and stored >= comparable_sequencer(sequencer):
            return False
        item = self.items.setdefault(image_id, {"image_id": image_id, "created_at": created_at})
        item.update(attributes, sequencer=comparable_sequencer(sequencer))
        self.writes.append((image_id, attributes))
        return True


def notification(key: str, sequencer: str, etag: str = "etag") -> str:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": {"key": quote_plus(key, safe="/"), "size": 677, "eTag": etag, "sequencer": sequencer},
        },
    }
    return json.dumps({"Records": [record]})


class Batch:
    """Given: photos in a bucket, a predictions store and a model. When: classify_messages runs."""

    def __init__(self, class_index: ClassIndex, policy: ModerationPolicy, objects: dict[str, bytes | Exception]):
        self.photos = FakePhotos(objects)
        self.predictions = FakePredictions()
        self.model = FakeModel(class_index)
        self.work = Classification(
            photos=self.photos,
            predictions=self.predictions,
            model=self.model,
            policy=policy,
            class_index=class_index,
            decode_threads=2,
            clock=lambda: NOW,
        )

    def run(self, *messages: tuple[str, str]) -> list[str]:
        return classify_messages([Message(message_id, body) for message_id, body in messages], self.work)

    def item(self, key: str) -> dict[str, Any]:
        return self.predictions.items[ids.image_id_for_key(key)]


UPLOAD = f"uploads/{'a' * 32}.jpg"
SHOE = "incoming/summer sale/shoe(1).jpg"
BOTTLE = "incoming/bar/bottle.jpg"


@pytest.fixture
def batch(class_index, policy) -> Batch:
    return Batch(class_index, policy, {UPLOAD: jpeg(RED), SHOE: jpeg(GREEN), BOTTLE: jpeg(BLUE)})


def test_a_batch_is_classified_in_one_forward_pass(batch):
    retry = batch.run(
        ("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")), ("m3", notification(BOTTLE, "03"))
    )

    assert retry == []
    assert batch.model.batches == [(3, 224, 224, 3)]
    assert [batch.item(key)["prediction"] for key in (UPLOAD, SHOE, BOTTLE)] == ["tabby", "revolver", "beer_bottle"]


def test_a_done_item_carries_labels_verdict_model_and_object_details(batch):
    batch.run(("m1", notification(SHOE, "0055AED6DCD90281E5", etag="7d793037a0760186574b0282f2f435e7")))

    item = batch.item(SHOE)
    assert item["status"] == STATUS_DONE and item["error"] is None
    assert (item["prediction"], item["score"]) == ("revolver", 0.8)
    assert len(item["labels"]) == 5
    assert item["labels"][0] == {"label": "revolver", "wnid": "n04086273", "score": pytest.approx(0.8)}
    assert item["verdict"] == "block"
    assert [(reason["category"], reason["label"]) for reason in item["verdict_reasons"]] == [("weapons", "revolver")]
    assert item["policy_version"] == batch.work.policy.version
    assert item["model"] == {"name": "ResNet50", "weights": "imagenet"}
    assert item["s3_key"] == SHOE and item["source"] == ids.SOURCE_DROP_FOLDER
    assert item["object_etag"] == "7d793037a0760186574b0282f2f435e7"
    assert item["classified_at"] == "2026-11-26T09:14:12.000Z"
    assert item["sequencer"] == comparable_sequencer("0055AED6DCD90281E5")


def test_verdicts_follow_the_policy(batch):
    batch.run(("m1", notification(UPLOAD, "01")), ("m3", notification(BOTTLE, "03")))

    assert (batch.item(UPLOAD)["verdict"], batch.item(UPLOAD)["verdict_reasons"]) == ("allow", [])
    assert batch.item(BOTTLE)["verdict"] == "review"
    assert batch.item(UPLOAD)["source"] == ids.SOURCE_UPLOAD


def test_duplicate_s3_event_in_one_batch_writes_one_prediction(batch):
    retry = batch.run(("m1", notification(SHOE, "02")), ("m2", notification(SHOE, "02")))

    assert retry == []
    assert batch.model.batches == [(1, 224, 224, 3)]
    assert len(batch.predictions.writes) == 1
    assert batch.photos.reads == [SHOE]


def test_two_uploads_of_one_key_in_a_batch_keep_the_newest(batch):
    batch.run(
        ("m1", notification(SHOE, "0055AED6DCD90281E6", etag="new")),
        ("m2", notification(SHOE, "0055AED6DC", etag="old")),
    )

    assert [attributes["object_etag"] for _, attributes in batch.predictions.writes] == ["new"]


def test_a_stored_newer_result_skips_the_photo_without_reading_or_inference(batch):
    batch.predictions.items[ids.image_id_for_key(SHOE)] = {
        "status": STATUS_DONE,
        "sequencer": comparable_sequencer("05"),
    }

    retry = batch.run(("m1", notification(SHOE, "04")))

    assert retry == []
    assert batch.photos.reads == [] and batch.model.batches == [] and batch.predictions.writes == []


def test_redelivery_of_an_already_classified_event_does_nothing(batch):
    batch.run(("m1", notification(SHOE, "04")))

    retry = batch.run(("m1", notification(SHOE, "04")))

    assert retry == []
    assert len(batch.model.batches) == 1 and len(batch.predictions.writes) == 1


def test_a_pending_upload_without_a_sequencer_is_classified(batch):
    batch.predictions.items[ids.image_id_for_key(UPLOAD)] = {
        "status": "pending",
        "created_at": "2026-11-26T09:14:07.000Z",
    }

    batch.run(("m1", notification(UPLOAD, "01")))

    assert batch.item(UPLOAD)["status"] == STATUS_DONE
    assert batch.item(UPLOAD)["created_at"] == "2026-11-26T09:14:07.000Z"


def test_a_corrupt_photo_fails_with_its_code_and_the_rest_of_the_batch_is_done(batch):
    batch.photos.objects[UPLOAD] = jpeg(RED)[:300]

    retry = batch.run(
        ("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")), ("m3", notification(BOTTLE, "03"))
    )

    assert retry == []  # retrying cannot help a broken file
    assert batch.model.batches == [(2, 224, 224, 3)]
    failed = batch.item(UPLOAD)
    assert failed["status"] == STATUS_FAILED
    assert failed["error"]["code"] == "corrupt_image" and failed["error"]["message"]
    assert failed["model"] == {"name": "ResNet50", "weights": "imagenet"}
    assert "prediction" not in failed
    assert (batch.item(SHOE)["status"], batch.item(BOTTLE)["status"]) == (STATUS_DONE, STATUS_DONE)


def test_a_file_that_is_no_image_fails_as_unsupported(batch):
    batch.photos.objects[SHOE] = b"<html>not a photo</html>"

    batch.run(("m1", notification(SHOE, "01")))

    assert batch.item(SHOE)["error"]["code"] == "unsupported_format"


def test_a_photo_deleted_before_classification_fails_as_missing(batch):
    del batch.photos.objects[SHOE]

    retry = batch.run(("m1", notification(SHOE, "01")))

    assert retry == []
    assert (batch.item(SHOE)["status"], batch.item(SHOE)["error"]["code"]) == (STATUS_FAILED, "object_missing")


def test_a_transient_read_error_retries_only_that_message(batch):
    batch.photos.objects[SHOE] = TimeoutError("read timed out")

    retry = batch.run(
        ("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")), ("m3", notification(BOTTLE, "03"))
    )

    assert retry == ["m2"]
    assert ids.image_id_for_key(SHOE) not in batch.predictions.items  # still pending for the redelivery
    assert batch.model.batches == [(2, 224, 224, 3)]
    assert {key: batch.item(key)["status"] for key in (UPLOAD, BOTTLE)} == {UPLOAD: STATUS_DONE, BOTTLE: STATUS_DONE}


def test_a_message_with_a_transient_failure_is_retried_as_a_whole(batch):
    batch.photos.objects[SHOE] = ConnectionResetError()
    two_photos = json.dumps(
        {"Records": json.loads(notification(UPLOAD, "01"))["Records"] + json.loads(notification(SHOE, "02"))["Records"]}
    )

    retry = batch.run(("m1", two_photos), ("m2", notification(BOTTLE, "03")))

    assert retry == ["m1"]
    # The message's other photo waits for the redelivery rather than being classified twice.
    assert batch.model.batches == [(1, 224, 224, 3)]
    assert set(batch.predictions.items) == {ids.image_id_for_key(BOTTLE)}


def test_a_failed_write_retries_that_message(batch):
    batch.predictions.broken_writes.add(ids.image_id_for_key(SHOE))

    retry = batch.run(("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")))

    assert retry == ["m2"]
    assert batch.item(UPLOAD)["status"] == STATUS_DONE


def test_a_failed_write_of_a_rejection_retries_that_message(batch):
    batch.photos.objects[SHOE] = b"junk"
    batch.predictions.broken_writes.add(ids.image_id_for_key(SHOE))

    assert batch.run(("m2", notification(SHOE, "02"))) == ["m2"]


def test_stored_results_are_looked_up_once_for_the_whole_batch(batch):
    batch.run(("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")), ("m3", notification(SHOE, "02")))

    assert [sorted(lookup) for lookup in batch.predictions.lookups] == [
        sorted([ids.image_id_for_key(UPLOAD), ids.image_id_for_key(SHOE)])
    ]


def test_a_failed_lookup_of_stored_results_retries_the_batch_without_inference(batch):
    batch.predictions.broken_reads = True

    retry = batch.run(("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")), ("m3", "not json"))

    assert retry == ["m1", "m2", "m3"]
    assert batch.photos.reads == [] and batch.model.batches == [] and batch.predictions.writes == []


@pytest.mark.parametrize("body", ["not json", json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}), "{}"])
def test_a_malformed_message_is_retried_and_the_others_are_classified(batch, body):
    retry = batch.run(("bad", body), ("m2", notification(SHOE, "02")))

    assert retry == ["bad"]  # after maxReceiveCount it lands in the dead-letter queue for a person to see
    assert batch.item(SHOE)["status"] == STATUS_DONE


def test_the_s3_test_event_does_nothing(batch, load_event):
    test_event = load_event("classify_sqs_batch")["Records"][2]

    retry = batch.run((test_event["messageId"], test_event["body"]))

    assert retry == []
    assert batch.photos.reads == [] and batch.model.batches == [] and batch.predictions.writes == []


def test_objects_outside_the_classified_prefixes_are_ignored(batch):
    retry = batch.run(
        ("m1", notification("exports/report.csv", "01")), ("m2", notification("uploads/chosen-by-client.jpg", "02"))
    )

    assert retry == []
    assert batch.photos.reads == [] and batch.model.batches == []


def test_an_empty_batch_runs_no_inference(batch):
    assert batch.run() == []
    assert batch.model.batches == []


class FakeSafetyModel:
    """Scores by dominant colour too (its rows are RGB in 0..1, nsfwjs' way): red photos look like porn."""

    info = SafetyInfo("nsfwjs-MobileNetV2", "4.4.0", 224)
    # drawing, hentai, neutral, porn, sexy
    BY_CHANNEL = {0: [0.01, 0.01, 0.03, 0.9, 0.05], 1: [0.05, 0.0, 0.9, 0.0, 0.05], 2: [0.0, 0.0, 0.1, 0.05, 0.85]}

    def __init__(self) -> None:
        self.batches: list[tuple[int, ...]] = []

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return preprocess_for_safety(image, self.info.input_size)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch.shape)
        assert batch.min() >= 0.0 and batch.max() <= 1.0  # pixels / 255, not ResNet50's mean-centred BGR
        dominant = batch.reshape(len(batch), -1, 3).mean(axis=1).argmax(axis=1)
        return np.array([self.BY_CHANNEL[int(channel)] for channel in dominant], dtype=np.float32)


@pytest.fixture
def batch_with_safety(batch) -> Batch:
    batch.work.safety = FakeSafetyModel()
    return batch


def test_both_models_run_once_per_batch_and_safety_is_stored_beside_the_labels(batch_with_safety):
    batch = batch_with_safety

    batch.run(("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")), ("m3", notification(BOTTLE, "03")))

    assert batch.model.batches == [(3, 224, 224, 3)]
    assert batch.work.safety.batches == [(3, 224, 224, 3)]
    shoe = batch.item(SHOE)
    assert shoe["prediction"] == "revolver" and len(shoe["labels"]) == 5
    assert shoe["safety"] == {
        "top_class": "neutral",
        "probabilities": {"drawing": 0.05, "hentai": 0.0, "neutral": 0.9, "porn": 0.0, "sexy": 0.05},
        "model": {"name": "nsfwjs-MobileNetV2", "version": "4.4.0"},
    }


def test_a_photo_scored_porn_above_the_threshold_is_blocked_as_explicit(batch_with_safety):
    batch = batch_with_safety

    batch.run(("m1", notification(UPLOAD, "01")))  # red: a tabby to ResNet50, porn 0.9 to the safety model

    item = batch.item(UPLOAD)
    assert item["prediction"] == "tabby"
    assert item["verdict"] == "block"
    assert [(r["category"], r["action"], r["label"]) for r in item["verdict_reasons"]] == [
        ("explicit", "block", "porn")
    ]


def test_a_photo_scored_sexy_is_reviewed_as_explicit(batch_with_safety):
    batch = batch_with_safety

    batch.run(("m3", notification(BOTTLE, "03")))  # blue: beer bottle (review) and sexy 0.85

    item = batch.item(BOTTLE)
    assert item["verdict"] == "review"
    assert ("explicit", "review", "sexy") in [(r["category"], r["action"], r["label"]) for r in item["verdict_reasons"]]


def test_without_a_safety_model_safety_is_null_and_only_imagenet_decides(batch):
    batch.run(("m1", notification(UPLOAD, "01")))

    assert batch.item(UPLOAD)["safety"] is None
    assert batch.item(UPLOAD)["verdict"] == "allow"
