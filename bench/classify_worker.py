"""The classify process the benchmark measures (started by bench.classify_bench, not by hand)."""

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


class _Context:
    function_name = "ClassifyFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 3008
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def put_photos(s3, bucket: str, photos: list[Path], prefix: str) -> list[dict]:
    from infra.s3_events import s3_notification

    notifications = []
    for photo in photos:
        data = photo.read_bytes()
        key = f"{prefix}/{photo.name}"
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        notifications.append(s3_notification(bucket, key, hashlib.md5(data).hexdigest(), len(data)))  # noqa: S324
    return notifications


def cold(event_json: str) -> None:
    """Only the handler's cold start is timed: the photo is already in the bucket (put by the parent)."""
    from classify import app  # the cold start: TensorFlow, ResNet50, policy, clients, warm-up

    response = app.lambda_handler(json.loads(event_json), _Context())
    if response["batchItemFailures"]:
        raise SystemExit(f"classification failed: {response}")
    print("CLASSIFIED", flush=True)


def images_per_second(run, count: int) -> float:
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


class _MemoryPhotos:
    """S3 without the emulator: the same bytes, read from memory."""

    def __init__(self, photos: dict[str, bytes]):
        self._photos = photos

    def read(self, bucket: str, key: str) -> bytes:
        return self._photos[key]


class _MemoryPredictions:
    """DynamoDB without the emulator: keeps what the classify path writes."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def stored_sequencers(self, image_ids: list[str]) -> dict[str, str]:
        return {}

    def record_outcome(self, image_id: str, sequencer: str, attributes: dict, created_at: str) -> bool:
        self.items[image_id] = dict(attributes)
        return True


def throughput(folder: Path, images: int, rounds: int) -> None:
    import boto3

    from classify import app
    from classify.service import Message, classify_messages
    from infra.s3_events import sqs_batch_of_notifications

    model = app.work.model
    batch_size = int(os.environ["BENCH_BATCH_SIZE"])
    random = np.random.default_rng(0)
    raw = {}
    for size in (1, 8, 32):
        batch = random.normal(0, 60, (size, 224, 224, 3)).astype(np.float32)
        model.predict(batch)  # a first call per shape is a warm-up
        repeats = max(2, 64 // size)
        raw[str(size)] = images_per_second(
            lambda b=batch, n=repeats: [model.predict(b) for _ in range(n)], size * repeats
        )

    photos = sorted(path for path in folder.iterdir() if path.is_file())
    photos = (photos * (images // len(photos) + 1))[:images]
    s3 = boto3.client("s3")
    raw_batch = random.normal(0, 60, (batch_size, 224, 224, 3)).astype(np.float32)
    pipeline, raw_interleaved, without_emulator = [], [], []
    # The safety model's share: its forward pass on the same batches, and its preprocessing of decoded photos
    # (decoding is shared with ResNet50, so it is not part of the added cost).
    safety = app.work.safety
    safety_batch = random.uniform(0, 1, (batch_size, 224, 224, 3)).astype(np.float32)
    safety_interleaved: list[float] = []
    safety_preprocess: list[float] = []
    if safety is not None:
        from classify.imaging import decode_image

        safety.predict(safety_batch)
        decoded = [decode_image(photo.read_bytes()) for photo in photos]
    for _ in range(rounds):
        prefix = f"incoming/bench-{uuid.uuid4().hex}"
        notifications = put_photos(s3, os.environ["BENCH_BUCKET"], photos, prefix)
        events = [
            sqs_batch_of_notifications(notifications[start : start + batch_size], os.environ["BENCH_QUEUE_ARN"])
            for start in range(0, len(notifications), batch_size)
        ]

        def classify_all(events=events) -> None:
            for event in events:
                if app.lambda_handler(event, _Context())["batchItemFailures"]:
                    raise SystemExit("a batch reported failures")

        pipeline.append(images_per_second(classify_all, len(photos)))
        batches = len(events)

        # The same classify path with S3 and DynamoDB in memory: what the emulator's requests cost.
        in_memory = dataclasses.replace(
            app.work,
            photos=_MemoryPhotos({f"{prefix}/{photo.name}": photo.read_bytes() for photo in photos}),
            predictions=_MemoryPredictions(),
        )
        messages = [[Message(record["messageId"], record["body"]) for record in event["Records"]] for event in events]
        without_emulator.append(
            images_per_second(lambda m=messages, w=in_memory: [classify_messages(b, w) for b in m], len(photos))
        )
        raw_interleaved.append(
            images_per_second(lambda n=batches: [model.predict(raw_batch) for _ in range(n)], batches * batch_size)
        )
        if safety is not None:
            safety_interleaved.append(
                images_per_second(
                    lambda n=batches: [safety.predict(safety_batch) for _ in range(n)], batches * batch_size
                )
            )
            safety_preprocess.append(
                images_per_second(lambda: [safety.preprocess(image) for image in decoded], len(decoded))
            )
    result = {
        "weights": model.info.weights,
        "batch_size": batch_size,
        "raw": raw,
        "pipeline": pipeline,
        "raw_interleaved": raw_interleaved,
        "without_emulator": without_emulator,
        "safety_model": safety.info.to_dict() if safety is not None else None,
        "safety_interleaved": safety_interleaved,
        "safety_preprocess": safety_preprocess,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "cold":
        cold(sys.argv[2])
    else:
        throughput(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
