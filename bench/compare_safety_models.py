"""Side-by-side cost of converted safety models (e.g. nsfwjs' MobileNetV2 vs InceptionV3), to choose one to ship.

    python -m bench.compare_safety_models models/nsfwjs_mobilenet_v2.keras models/nsfwjs_inception_v3.keras

Each model's forward pass at one batch size, rounds interleaved so that the machine's load hits all alike;
plus load time and file size. `make models-inception` converts InceptionV3 (not shipped).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from infra.paths import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]

from classify.safety import load_safety_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--batch", type=int, default=10, help="the template's ClassifyBatchSize")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    loaded, load_seconds = [], []
    for path in options.models:
        started = time.perf_counter()
        model = load_safety_model(str(path), required=True)
        load_seconds.append(time.perf_counter() - started)
        assert model is not None
        loaded.append(model)
    batches = [
        np.random.default_rng(0).uniform(0, 1, (options.batch, size, size, 3)).astype(np.float32)
        for size in (model.info.input_size for model in loaded)
    ]
    timings: list[list[float]] = [[] for _ in loaded]
    for _ in range(options.rounds):
        for model, batch, rounds in zip(loaded, batches, timings, strict=True):
            started = time.perf_counter()
            model.predict(batch)
            rounds.append(time.perf_counter() - started)
    print(f"batch {options.batch}, {options.rounds} interleaved rounds (median):")
    for path, model, seconds, rounds in zip(options.models, loaded, load_seconds, timings, strict=True):
        median = statistics.median(rounds)
        print(
            f"  {model.info.name:24s} input {model.info.input_size}: {1000 * median:7.0f} ms per batch, "
            f"{options.batch / median:6.1f} images/s, load {seconds:.1f} s, file {path.stat().st_size / 1e6:.0f} MB"
        )


if __name__ == "__main__":
    main()
