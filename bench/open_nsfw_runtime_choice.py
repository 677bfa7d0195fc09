"""Open-NSFW served by ONNX Runtime (the published file) vs. LiteRT (its onnx2tf conversion), on the same pixels.

    python -m bench.open_nsfw_runtime_choice [--photos DIR] [--count 48] [--rounds 2]

`make open-nsfw-runtime-choice` first converts the model in .venv-onnx2tf (tools/open_nsfw/convert_litert.py).
Each runtime runs in fresh processes, alternating, on the same preprocessed photos (classify.open_nsfw.preprocess):
load and first call, milliseconds per photo at batch 1 and 8, peak RSS; then the largest score difference.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from infra.paths import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]

from classify.imaging import decode_image  # noqa: E402
from classify.open_nsfw import INPUT_SIZE, OpenNsfwModel, preprocess  # noqa: E402

ONNX = REPO_ROOT / "models" / "open_nsfw.onnx"
LITERT = REPO_ROOT / "models" / "open_nsfw.litert.tflite"
DEFAULT_PHOTOS = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"


def litert_forward(path: Path):  # type: ignore[no-untyped-def]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=os.cpu_count() or 1)
    tensor_in, tensor_out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    size = {"batch": -1}

    def forward(batch: np.ndarray) -> np.ndarray:
        if batch.shape[0] != size["batch"]:
            interpreter.resize_tensor_input(tensor_in["index"], batch.shape, strict=False)
            interpreter.allocate_tensors()
            size["batch"] = batch.shape[0]
        interpreter.set_tensor(tensor_in["index"], np.ascontiguousarray(batch, dtype=np.float32))
        interpreter.invoke()
        return np.asarray(interpreter.get_tensor(tensor_out["index"]))[:, 1].copy()

    return forward


def worker(runtime: str, photos: Path, count: int, scores_out: Path) -> None:
    files = sorted(path for path in photos.iterdir() if path.is_file())[:count]
    inputs = np.stack([preprocess(decode_image(path.read_bytes())) for path in files])
    started = time.perf_counter()
    forward = OpenNsfwModel(ONNX).predict if runtime == "onnxruntime" else litert_forward(LITERT)
    forward(np.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32))
    result: dict[str, float] = {"load_s": time.perf_counter() - started}
    for batch in (1, 8):
        forward(inputs[:batch])  # a first call per shape is a warm-up
        started = time.perf_counter()
        scores = np.concatenate([forward(inputs[start : start + batch]) for start in range(0, len(inputs), batch)])
        result[f"batch_{batch}_ms"] = 1000 * (time.perf_counter() - started) / len(inputs)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.save(scores_out, scores)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", choices=("onnxruntime", "litert"))
    parser.add_argument("--scores", type=Path)
    options = parser.parse_args()
    if options.worker:
        worker(options.worker, options.photos, options.count, options.scores)
        return
    if not LITERT.is_file():
        raise SystemExit(f"no {LITERT}: run `make open-nsfw-runtime-choice` (it converts the model first)")
    runs: dict[str, list[dict[str, float]]] = {"onnxruntime": [], "litert": []}
    for round_number in range(options.rounds):
        for runtime in runs:
            scores = REPO_ROOT / ".run" / f"open_nsfw_scores_{runtime}.npy"
            scores.parent.mkdir(exist_ok=True)
            print(f"round {round_number + 1}/{options.rounds}: {runtime} (fresh process)…", flush=True)
            command = [sys.executable, "-m", "bench.open_nsfw_runtime_choice", "--worker", runtime]
            command += ["--photos", str(options.photos), "--count", str(options.count), "--scores", str(scores)]
            output = subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout  # noqa: S603
            runs[runtime].append(json.loads(output.strip().splitlines()[-1]))
    for runtime, results in runs.items():
        figures = {key: ", ".join(f"{result[key]:.2f}" for result in results) for key in results[0]}
        print(
            f"{runtime:12s} load+first call {figures['load_s']} s; per photo at batch 1 {figures['batch_1_ms']} ms, "
            f"batch 8 {figures['batch_8_ms']} ms; peak RSS {figures['peak_rss_mb']} MB"
        )
    difference = np.abs(
        np.load(REPO_ROOT / ".run" / "open_nsfw_scores_onnxruntime.npy")
        - np.load(REPO_ROOT / ".run" / "open_nsfw_scores_litert.npy")
    ).max()
    print(f"largest |LiteRT - ONNX Runtime| over {options.count} photos: {difference:.1e}")


if __name__ == "__main__":
    main()
