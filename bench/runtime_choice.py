"""How the served runtime was chosen: LiteRT and ONNX Runtime on the same converted ResNet50, side by side.

    make runtime-choice        # installs onnxruntime and tf2onnx into .venv first (not needed otherwise)

Converts the model `make model` converts (same weights) to ONNX with tf2onnx, then, in fresh processes that
alternate between the runtimes, measures process start to first prediction, throughput at batch 1/8/32, peak RSS
and the largest probability difference from TensorFlow on a fixed random batch.
"""

import json
import subprocess
import sys
import time

from infra.paths import REPO_ROOT

WORK = REPO_ROOT / ".run" / "bench" / "runtime-choice"
SERVED = REPO_ROOT / "models" / "resnet50.tflite"
WEIGHTS = REPO_ROOT / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"

REFERENCE = """
import sys
import numpy as np
import tensorflow as tf
import tf2onnx
from model_build.convert import current_source
from classify.model import build_keras_resnet50
weights, _ = current_source(__WEIGHTS__)
model = build_keras_resnet50(weights)
spec = [tf.TensorSpec([None, 224, 224, 3], tf.float32, name="images")]
forward = tf.function(lambda images: model(images, training=False), input_signature=spec)
tf2onnx.convert.from_function(forward, input_signature=spec, opset=17, output_path=sys.argv[1] + "/resnet50.onnx")
batch = np.random.default_rng(0).normal(0, 60, (4, 224, 224, 3)).astype(np.float32)
np.save(sys.argv[1] + "/batch.npy", batch)
np.save(sys.argv[1] + "/reference.npy", forward(batch).numpy())
"""

MEASURE = """
import json, resource, sys, time
started = float(sys.argv[3])
import numpy as np
runtime, folder = sys.argv[1], sys.argv[2]
if runtime == "litert":
    from classify.served import ServedModel
    predict = ServedModel(__SERVED__).predict
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(folder + "/resnet50.onnx", providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    predict = lambda batch: session.run(None, {name: batch})[0]
batch = np.load(folder + "/batch.npy")
first = predict(batch[:1])
result = {"first_s": time.time() - started}
result["max_diff"] = float(np.abs(predict(batch) - np.load(folder + "/reference.npy")).max())
rng = np.random.default_rng(1)
for size in (1, 8, 32):
    inputs = rng.normal(0, 60, (size, 224, 224, 3)).astype(np.float32)
    predict(inputs)
    repeats = max(2, 32 // size)
    begin = time.perf_counter()
    for _ in range(repeats):
        predict(inputs)
    result[f"batch{size}"] = size * repeats / (time.perf_counter() - begin)
result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(result))
"""


def run(code: str, *arguments: str) -> dict:
    environment = {"PYTHONPATH": "functions/classify:functions/shared", "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin"}
    completed = subprocess.run(
        [sys.executable, "-c", code, *arguments], cwd=REPO_ROOT, env=environment, capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise SystemExit(completed.stderr[-3000:])
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(lines[0].removeprefix("RESULT ")) if lines else {}


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    print("converting to ONNX with tf2onnx (the LiteRT model is `make model`'s)…", flush=True)
    run(REFERENCE.replace("__WEIGHTS__", f"__import__('pathlib').Path({str(WEIGHTS)!r})"), str(WORK))
    results: dict[str, list[dict]] = {"litert": [], "onnxruntime": []}
    for _ in range(2):
        for runtime in results:
            code = MEASURE.replace("__SERVED__", f"__import__('pathlib').Path({str(SERVED)!r})")
            results[runtime].append(run(code, runtime, str(WORK), str(time.time())))
    for runtime, runs in results.items():
        best = {key: (min if key in ("first_s", "peak_rss_mb") else max)(run[key] for run in runs) for key in runs[0]}
        print(
            f"{runtime:<12} first prediction {best['first_s']:.2f} s, batch 1/8/32 "
            f"{best['batch1']:.2f}/{best['batch8']:.2f}/{best['batch32']:.2f} img/s, "
            f"peak RSS {best['peak_rss_mb']:.0f} MB, max |p - TensorFlow| {best['max_diff']:.1e}"
        )


if __name__ == "__main__":
    main()
