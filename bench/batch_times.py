"""How long one classify batch takes, to size the function timeout and the queue's visibility timeout.

    python -m bench.batch_times [--rounds 3] [--runtime litert|tensorflow]

Runs classify.service.classify_messages (real decode, real forward passes of ResNet50 and the safety model under
the runtime the function serves, LiteRT by default, and of the second opinion under ONNX Runtime, as `make up`
loads them from models/; S3 and DynamoDB replaced by in-memory fakes, so only the function's own work is timed)
on batches of the template's size:
  - typical: 8 ImageNet sample photos, all on their first delivery (one forward pass);
  - typical, redelivered: the same 8 after a crash (each photo alone, the recovery path);
  - worst case: 8 photos at the 40 MP limit (4 large JPEGs, 4 16-bit PNGs), first delivery and redelivered.
Prints the slowest round of each, and the timeout and visibility timeout they suggest (timeout = 3 x the
slowest batch, rounded up to 5 s; visibility = 6 x timeout, AWS's rule for SQS event sources).
"""

import argparse
import dataclasses
import io
import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from infra.paths import REPO_ROOT
from infra.template import load_template

PHOTOS = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"
BATCH = 8
MODELS = REPO_ROOT / "models"
WEIGHTS = MODELS / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
SERVED_MODEL = MODELS / "resnet50.tflite"
SAFETY_MODEL = MODELS / "nsfwjs_mobilenet_v2.keras"
# The classify function's MemorySize in template.yaml
MEMORY_SIZE_MB = int(load_template()["Resources"]["ClassifyFunction"]["Properties"]["MemorySize"])
MIB = 1024 * 1024
BUCKET = "bench"


class MemoryBucket:
    def __init__(self, objects: dict[str, bytes]):
        self.objects = objects

    def read(self, bucket: str, key: str, version_id: str | None) -> Any:
        from classify.service import StoredPhoto

        return StoredPhoto(self.objects[key], "v1")

    def current_version(self, bucket: str, key: str) -> str | None:
        return "v1"


class MemoryTable:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def stored_events(self, image_ids: list[str]) -> dict[str, Any]:
        return {}

    def record_outcome(self, outcome: Any, event: Any, created_at: str) -> bool:
        self.items[outcome.image_id] = outcome.outcome()
        return True

    def count_solo_attempt(self, attempt: str, first: Any) -> int:
        return 1

    def forget_solo_attempts(self, image_id: str) -> None:
        pass


def large_photos() -> list[bytes]:
    ramp = np.linspace(0, 255, 7744, dtype=np.float32)[None, :] * np.ones((5164, 1), np.float32)
    jpeg = io.BytesIO()
    Image.fromarray(np.dstack([ramp, ramp[:, ::-1], np.full_like(ramp, 90)]).astype(np.uint8)).save(jpeg, "JPEG")
    png = io.BytesIO()
    Image.fromarray((ramp * 257).astype(np.uint16)).save(png, "PNG")
    return [jpeg.getvalue()] * 4 + [png.getvalue()] * 4


def notification(key: str, sequencer: int) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "eventTime": datetime.now(UTC).isoformat(),
                    "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "sequencer": f"{sequencer:020X}"}},
                }
            ]
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runtime", choices=["litert", "tensorflow"], default="litert", help="default: the served one")
    parser.add_argument(
        "--without-second-opinion", action="store_true", help="leave Open-NSFW out (to measure what it adds)"
    )
    arguments = parser.parse_args()

    from classify.labels import ClassIndex
    from classify.model import load_classifier
    from classify.notifications import photo_events
    from classify.open_nsfw import load_open_nsfw
    from classify.policy import ModerationPolicy
    from classify.safety import load_safety_model
    from classify.service import Classification, Message, classify_messages

    class_index = ClassIndex.from_file()
    typical = [path.read_bytes() for path in sorted(Path(PHOTOS).iterdir())[:BATCH]]
    work = Classification(
        photos=MemoryBucket({}),
        predictions=MemoryTable(),
        # What `make up` serves (infra/local/env-vars.json): the converted model, the safety model beside it.
        model=load_classifier(arguments.runtime, str(WEIGHTS), True, str(SERVED_MODEL)),
        policy=ModerationPolicy.from_file(class_index=class_index),
        class_index=class_index,
        read_events=photo_events,
        safety=load_safety_model(str(SAFETY_MODEL), required=True, runtime=arguments.runtime),
        second_opinion=None
        if arguments.without_second_opinion
        else load_open_nsfw(str(SAFETY_MODEL.with_name("open_nsfw.onnx")), required=True),
        # The function's defaults at the template's MemorySize (classify.settings): a third of it for decodes.
        decode_budget_bytes=MEMORY_SIZE_MB // 3 * MIB,
        memory_limit_bytes=MEMORY_SIZE_MB * MIB,
    )
    print(f"runtime {arguments.runtime}: {work.model.info.model_dump()}, safety {work.safety and work.safety.info}")
    results: dict[str, float] = {}
    for name, photos in (("typical", typical), ("40 MP", large_photos())):
        for receive_count in (1, 2):
            slowest = 0.0
            for round_number in range(arguments.rounds):
                keys = [f"incoming/bench/{round_number}-{index}.jpg" for index in range(len(photos))]
                work = dataclasses.replace(work, photos=MemoryBucket(dict(zip(keys, photos, strict=True))))
                messages = [
                    Message(str(index), notification(key, time.time_ns()), receive_count)
                    for index, key in enumerate(keys)
                ]
                started = time.perf_counter()
                assert classify_messages(messages, work) == []
                slowest = max(slowest, time.perf_counter() - started)
            label = f"{name}, {'first delivery' if receive_count == 1 else 'redelivered (one at a time)'}"
            results[label] = slowest
            print(f"batch of {len(photos)} {label:<40} slowest of {arguments.rounds}: {slowest:6.2f} s", flush=True)
    worst = max(results.values())
    timeout = 5 * math.ceil(3 * worst / 5)
    print(f"suggested: function timeout {timeout} s (3 x {worst:.2f} s), visibility timeout {6 * timeout} s")


if __name__ == "__main__":
    main()
