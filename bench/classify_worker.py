"""The classify process the benchmark measures (started by bench.classify_bench, not by hand).

Its model runtime is the MODEL_RUNTIME of its environment, so the benchmark runs it once per runtime.
"""

import dataclasses
import hashlib
import json
import os
import resource
import sys
import time
import uuid
from pathlib import Path

import numpy as np


def _context():
    from tests.support.lambda_context import FakeLambdaContext

    memory_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048"))
    return FakeLambdaContext("ClassifyFunction", memory_limit_in_mb=memory_mb, remaining_ms=60_000)


def put_photos(s3, bucket: str, photos: list[Path], prefix: str) -> list[str]:
    """Puts the photos in the bucket; the notification bodies S3 sends for them."""
    from tests.support.events import s3_notification

    notifications = []
    for photo in photos:
        data = photo.read_bytes()
        key = f"{prefix}/{photo.name}"
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        etag = hashlib.md5(data).hexdigest()  # noqa: S324 - S3's ETag of a single-part upload
        notifications.append(s3_notification(bucket, key, etag=etag, size=len(data)))
    return notifications


def cold(event_json: str) -> None:
    """Only the handler's cold start is timed: the photo is already in the bucket (put by the parent)."""
    from classify import app  # the cold start: the model runtime, the classifier, policy, clients, warm-up

    response = app.lambda_handler(json.loads(event_json), _context())
    if response["batchItemFailures"]:
        raise SystemExit(f"classification failed: {response}")
    print("CLASSIFIED", flush=True)


def seconds(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


class _MemoryPhotos:
    """S3 without the emulator: the same bytes, read from memory (an unversioned bucket); renditions kept there too."""

    def __init__(self, photos: dict[str, bytes]):
        self._photos = photos

    def read(self, bucket: str, key: str, version_id: str | None):
        from classify.service import StoredPhoto

        return StoredPhoto(self._photos[key], None)

    def current_version(self, bucket: str, key: str) -> str | None:
        return None

    def save_rendition(self, bucket: str, key: str, data: bytes) -> None:
        self._photos[key] = data


class _MemoryPredictions:
    """DynamoDB without the emulator: keeps what the classify path writes (every photo is new)."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def stored_events(self, image_ids: list[str]) -> dict:
        return {}

    def record_outcome(self, outcome, event, created_at: str, **_) -> bool:
        self.items[outcome.image_id] = outcome.outcome()
        return True

    def count_solo_attempt(self, attempt: str, first) -> int:
        return 1

    def forget_solo_attempts(self, image_id: str) -> None:
        pass


class _TimedModel:
    """A model whose forward passes inside the classify path are timed (the path's own share of "raw")."""

    def __init__(self, model, spent: list[float]):
        self._model, self._spent = model, spent
        self.info = model.info

    def preprocess(self, image):
        return self._model.preprocess(image)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self._model.predict(batch)
        finally:
            self._spent.append(time.perf_counter() - started)


def _batches(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def throughput(photo_list: str, phone_list: str, rounds: int) -> None:
    """Raw model at batch 1/8/32; the classify path (emulator, in memory) against the raw forward passes of the
    same batches, interleaved round by round; the same in memory on 12-MP phone photos; top-5 of every photo."""
    import boto3

    from classify import app
    from classify.labels import top_k
    from classify.rendition import make_rendition
    from classify.service import Message, classify_messages
    from photomod_shared.publication import NoPublisher
    from tests.support.events import s3_notification, sqs_event_for

    model = app.work.model
    batch_size = int(os.environ["BENCH_BATCH_SIZE"])
    random = np.random.default_rng(0)
    raw = {}
    for size in (1, 8, 32):
        batch = random.normal(0, 60, (size, 224, 224, 3)).astype(np.float32)
        model.predict(batch)  # a first call per shape is a warm-up
        repeats = max(2, 32 // size)
        raw[str(size)] = size * repeats / seconds(lambda b=batch, n=repeats: [model.predict(b) for _ in range(n)])
    safety = app.work.safety
    safety_raw8 = None
    if safety is not None:  # the same tight loop for the safety model at batch 8: "raw" counts both models
        batch = random.uniform(0, 1, (8, 224, 224, 3)).astype(np.float32)
        safety.predict(batch)
        safety_raw8 = 8 * 4 / seconds(lambda: [safety.predict(batch) for _ in range(4)])
    second = app.work.second_opinion
    second_raw8 = None
    if second is not None:  # and for the second opinion: "raw" counts every model the path runs
        batch = random.normal(0, 60, (8, 224, 224, 3)).astype(np.float32)
        second.predict(batch)
        second_raw8 = 8 * 4 / seconds(lambda: [second.predict(batch) for _ in range(4)])

    photos = [Path(line) for line in Path(photo_list).read_text().splitlines()]
    phones = [Path(line) for line in Path(phone_list).read_text().splitlines()]
    s3 = boto3.client("s3")

    def renditions_of(paths: list[Path]) -> list:
        """Each photo's rendition, decoded again (what both models' preprocessing starts from)."""
        return [make_rendition(p.read_bytes(), lambda image: image.copy()).judged[0] for p in paths]

    def inputs_of(images: list, prepare) -> list[np.ndarray]:
        return [np.stack([prepare(image) for image in chunk]) for chunk in _batches(images, batch_size)]

    def events_for(notifications: list[str]) -> list[dict]:
        queue_arn = os.environ["BENCH_QUEUE_ARN"]
        return [sqs_event_for(chunk, queue_arn) for chunk in _batches(notifications, batch_size)]

    def in_memory(paths: list[Path], forward: list[float] | None = None) -> float:
        """Seconds for the classify path over `paths` with S3 and DynamoDB in memory (what the emulator costs);
        with `forward`, the seconds of every model's forward passes inside the path are appended to it."""
        prefix = f"incoming/bench-{uuid.uuid4().hex}"
        events = events_for(
            [s3_notification("bench", f"{prefix}/{path.name}", etag="0" * 32, size=1) for path in paths]
        )
        work = dataclasses.replace(
            app.work,
            photos=_MemoryPhotos({f"{prefix}/{path.name}": path.read_bytes() for path in paths}),
            predictions=_MemoryPredictions(),
            publisher=NoPublisher(),  # nothing is published from memory
        )
        if forward is not None:
            timed = {name: getattr(work, name) for name in ("model", "safety", "second_opinion")}
            work = dataclasses.replace(
                work, **{name: _TimedModel(model, forward) for name, model in timed.items() if model is not None}
            )
        messages = [[Message(r["messageId"], r["body"]) for r in event["Records"]] for event in events]
        started = time.perf_counter()
        for batch in messages:
            if classify_messages(batch, work):
                raise SystemExit("a batch reported failures")
        return time.perf_counter() - started

    def through_emulator(paths: list[Path]) -> float:
        """Seconds for the handler over `paths` already put in the emulator's bucket."""
        events = events_for(put_photos(s3, os.environ["BENCH_BUCKET"], paths, f"incoming/bench-{uuid.uuid4().hex}"))
        started = time.perf_counter()
        for event in events:
            if app.lambda_handler(event, _context())["batchItemFailures"]:
                raise SystemExit("a batch reported failures")
        return time.perf_counter() - started

    def forward_passes(inputs: list[np.ndarray]) -> float:
        return seconds(lambda: [model.predict(batch) for batch in inputs])

    # The safety model's share: its forward pass on the same batches, and its preprocessing of the renditions
    # (the decode is shared with ResNet50, so it is not part of the added cost). Same runtime as ResNet50's.
    decoded, phone_decoded = renditions_of(photos), renditions_of(phones)
    sample_inputs, phone_inputs = inputs_of(decoded, model.preprocess), inputs_of(phone_decoded, model.preprocess)
    if safety is not None:
        safety_inputs = inputs_of(decoded, safety.preprocess)
        phone_safety_inputs = inputs_of(phone_decoded, safety.preprocess)
    # The second opinion (Open-NSFW under ONNX Runtime) the same way: forward passes and preprocessing (its JPEG
    # round trip at 256 px included) of the same renditions.
    if second is not None:
        second_inputs = inputs_of(decoded, second.preprocess)
        phone_second_inputs = inputs_of(phone_decoded, second.preprocess)
        second.predict(second_inputs[0])  # a first call per shape is a warm-up
    if safety is not None:
        safety.predict(safety_inputs[0])  # a first call per shape is a warm-up

    times: dict[str, list[float]] = {"emulator": [], "in_memory": [], "raw": [], "phone_in_memory": [], "phone_raw": []}
    if safety is not None:
        times |= {"safety_raw": [], "safety_preprocess": [], "phone_safety_raw": []}
    if second is not None:
        times |= {"second_raw": [], "second_preprocess": [], "phone_second_raw": []}
    for _ in range(rounds):
        times["emulator"].append(through_emulator(photos))
        times["in_memory"].append(in_memory(photos))
        times["raw"].append(forward_passes(sample_inputs))
        inside: list[float] = []
        times["phone_in_memory"].append(in_memory(phones, inside))
        times.setdefault("phone_path_forward", []).append(sum(inside))
        times["phone_raw"].append(forward_passes(phone_inputs))
        if safety is not None:
            times["safety_raw"].append(seconds(lambda: [safety.predict(batch) for batch in safety_inputs]))
            times["phone_safety_raw"].append(seconds(lambda: [safety.predict(batch) for batch in phone_safety_inputs]))
            times["safety_preprocess"].append(seconds(lambda: [safety.preprocess(image) for image in decoded]))
        if second is not None:
            times["second_raw"].append(seconds(lambda: [second.predict(batch) for batch in second_inputs]))
            times["second_preprocess"].append(seconds(lambda: [second.preprocess(image) for image in decoded]))
            times["phone_second_raw"].append(seconds(lambda: [second.predict(batch) for batch in phone_second_inputs]))

    top5 = {}
    for chunk, batch in zip(_batches(photos, batch_size), sample_inputs, strict=True):
        for path, row in zip(chunk, model.predict(batch), strict=True):
            top5[path.name] = {label.label: label.score for label in top_k(row, app.work.class_index, 5)}
    result = {
        "runtime": model.runtime,
        "model": model.info.name,
        "weights": model.info.weights,
        "batch_size": batch_size,
        "photos": len(photos),
        "phones": len(phones),
        "raw": raw,
        "safety_raw8": safety_raw8,
        "second_raw8": second_raw8,
        "times": times,
        "top5": top5,
        "safety_model": {"name": safety.info.name, "version": safety.info.version} if safety is not None else None,
        "second_opinion": {"name": second.info.name, "version": second.info.version} if second is not None else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "cold":
        cold(sys.argv[2])
    else:
        throughput(sys.argv[2], sys.argv[3], int(sys.argv[4]))
