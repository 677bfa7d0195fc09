"""Benchmark of the classify function on this machine: raw model vs. the whole classify path.

    python -m bench.classify_bench [--photos DIR] [--images 64] [--rounds 3]

Everything runs in one invocation, side by side, so the ratios hold even though absolute timings are noisy:
  1. cold start: process start -> first classification through the real handler, next to a bare
     `import tensorflow` + ResNet50 build + first prediction (each in a fresh process);
  2. raw model throughput at batch 1, 8 and 32 (the handler's own model object);
  3. the classify path (S3 read, decode, preprocess, inference, DynamoDB write against the embedded
     emulator) at the template's batch size, interleaved with raw rounds at that batch size;
  4. the peak RSS of the classify process.
The model runs with untrained weights when no ImageNet weights are present: speed does not depend on them.
"""

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import reports
from infra.template import REPO_ROOT

DEFAULT_PHOTOS = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"
BARE_COLD_START = """
import time, sys
start = float(sys.argv[1])
import numpy as np
import tensorflow as tf
model = tf.keras.applications.ResNet50(weights=None)
model(np.zeros((1, 224, 224, 3), dtype=np.float32), training=False)
print("FIRST_PREDICTION", time.time() - start, flush=True)
"""


def emulator_environment() -> tuple[dict[str, str], object]:
    """Starts moto server in this process, creates the template's resources, returns the classify env."""
    import boto3
    from moto.server import ThreadedMotoServer

    from infra.functions import function_specs
    from infra.provision import provision
    from infra.template import LocalNames, ResolvedTemplate, load_template

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_ENDPOINT_URL": endpoint}
    os.environ.update({**credentials, "AWS_DEFAULT_REGION": "us-east-1"})
    template = ResolvedTemplate(load_template(), LocalNames(endpoint_url=endpoint))
    provision(template, boto3.Session(region_name="us-east-1"), log=lambda _: None)
    overrides = json.loads((REPO_ROOT / "infra" / "local-env.json").read_text())
    spec = function_specs(template, credentials, overrides)["ClassifyFunction"]
    environment = {**spec.environment, "POWERTOOLS_LOG_LEVEL": "WARNING", "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment["PYTHONPATH"] = os.pathsep.join([*spec.code_paths, str(REPO_ROOT)])
    environment["BENCH_BUCKET"] = template.ref("ImagesBucket")
    environment["BENCH_QUEUE_ARN"] = template.arn("ClassifyQueue")
    environment["BENCH_BATCH_SIZE"] = template.parameters["ClassifyBatchSize"]
    return environment, server


def cold_start_event(photo: Path, environment: dict[str, str]) -> dict:
    """Puts the photo in the emulator's bucket and returns the SQS event that announces it."""
    import boto3

    from bench.classify_worker import put_photos
    from infra.s3_events import sqs_batch_of_notifications

    s3 = boto3.client("s3")
    notifications = put_photos(s3, environment["BENCH_BUCKET"], [photo], f"incoming/bench-cold-{time.time_ns()}")
    return sqs_batch_of_notifications(notifications, environment["BENCH_QUEUE_ARN"])


def run_child(arguments: list[str], environment: dict[str, str], marker: str) -> tuple[float, list[str]]:
    """Runs a fresh Python process; returns seconds from spawn to the marker line, and all its output."""
    started = time.time()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, *arguments, str(started)],
        cwd=REPO_ROOT,
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines, elapsed = [], None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith(marker) and elapsed is None:
            elapsed = time.time() - started
    if process.wait() != 0 or elapsed is None:
        raise RuntimeError(f"benchmark child failed ({process.returncode}):\n" + "\n".join(lines))
    return elapsed, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="folder of real photos")
    parser.add_argument("--images", type=int, default=64, help="photos per pipeline round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved raw/pipeline rounds")
    options = parser.parse_args()
    photos = sorted(path for path in options.photos.iterdir() if path.is_file())
    if not photos:
        raise SystemExit(f"no photos in {options.photos}")

    print("starting the emulator and creating the template's resources…", flush=True)
    environment, server = emulator_environment()
    try:
        print("cold start: bare TensorFlow + ResNet50 + first prediction (fresh process)…", flush=True)
        bare_s, _ = run_child(["-c", BARE_COLD_START], environment, "FIRST_PREDICTION")
        print("cold start: classify handler, process start to first classification (fresh process)…", flush=True)
        cold_event = json.dumps(cold_start_event(photos[0], environment))
        handler_s, _ = run_child(["-m", "bench.classify_worker", "cold", cold_event], environment, "CLASSIFIED")
        print("throughput: raw model and classify path in one classify process…", flush=True)
        arguments = ["-m", "bench.classify_worker", "throughput", str(options.photos), str(options.images)]
        arguments += [str(options.rounds)]
        _, lines = run_child(arguments, environment, "RESULT")
    finally:
        server.stop()
    result = json.loads(next(line for line in lines if line.startswith("RESULT")).split(" ", 1)[1])

    batch = result["batch_size"]
    raw = result["raw"]
    raw_at_batch = statistics.median(result["raw_interleaved"])
    pipeline = statistics.median(result["pipeline"])
    ratio = pipeline / raw_at_batch
    in_memory = statistics.median(result["without_emulator"])
    print()
    print(f"model weights: {result['weights']} (speed does not depend on the weights' values)")
    print("raw model throughput (same model object, one forward pass per batch):")
    for size in ("1", "8", "32"):
        print(f"  batch {size:>2}: {raw[size]:6.2f} images/s")
    print(
        f"classify path at the configured batch size {batch} ({options.images} real photos per round, "
        f"{options.rounds} rounds interleaved with raw rounds):"
    )
    print(f"  pipeline: {pipeline:6.2f} images/s   rounds: {', '.join(f'{v:.2f}' for v in result['pipeline'])}")
    print(
        f"  raw     : {raw_at_batch:6.2f} images/s   rounds: {', '.join(f'{v:.2f}' for v in result['raw_interleaved'])}"
    )
    print(
        f"  same path, S3 and DynamoDB in memory: {in_memory:6.2f} images/s (ratio {in_memory / raw_at_batch:.2f}): "
        "the rest of the gap is the emulator's requests"
    )
    print(
        f"cold start: classify handler {handler_s:.2f} s vs bare TensorFlow+ResNet50 {bare_s:.2f} s "
        f"(ratio {handler_s / bare_s:.2f}; target <= 1.20)"
    )
    print(f"peak RSS of the classify process: {result['peak_rss_mb']:.0f} MB (target <= 1500 MB)")
    print(f"pipeline/raw throughput ratio: {ratio:.2f}")
    summary = {
        "pipeline_images_per_s": pipeline,
        "raw_images_per_s": raw_at_batch,
        "in_memory_images_per_s": in_memory,
        "cold_start_handler_s": handler_s,
        "cold_start_bare_s": bare_s,
        "pipeline_raw_ratio": ratio,
    }
    print("report: " + ", ".join(str(path) for path in reports.write_bench_report(result, summary)))


if __name__ == "__main__":
    main()
