"""The local counterpart of the classify image's build stage: the converted model must exist before a worker starts.

A function whose environment names SERVED_MODEL_PATH (and does not ask for the TensorFlow reference) gets its
model converted by `python -m model_build` when it is missing or was converted from other weights.
"""

import os
import subprocess
import sys
from collections.abc import Callable, Iterable

from infra.functions import FunctionSpec
from infra.template import REPO_ROOT

MODEL_BUILD_PATH = REPO_ROOT / "functions" / "classify"


def served_model_builds(specs: Iterable[FunctionSpec]) -> list[tuple[str, str]]:
    """(weights path, served model path) of every function that serves a converted model."""
    builds = []
    for spec in specs:
        served = spec.environment.get("SERVED_MODEL_PATH")
        if served and spec.environment.get("MODEL_RUNTIME", "litert") != "tensorflow":
            builds.append((spec.environment.get("MODEL_WEIGHTS_PATH", ""), served))
    return list(dict.fromkeys(builds))


def ensure_served_models(specs: Iterable[FunctionSpec], say: Callable[[str], None]) -> None:
    """Converts what is missing or stale (a minute or two, with progress lines); a no-op when all is current."""
    for weights, served in served_model_builds(specs):
        convert_if_stale(weights, served, say)


def convert_if_stale(weights: str, served: str, say: Callable[[str], None]) -> None:
    """Runs `python -m model_build` (in its own process: it imports TensorFlow) and relays its progress lines."""
    command = [sys.executable, "-m", "model_build", "--output", served]
    if weights:
        command += ["--weights", weights]
    process = subprocess.Popen(  # noqa: S603
        command,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(MODEL_BUILD_PATH), "TF_CPP_MIN_LOG_LEVEL": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line.rstrip("\n"))
        if line.startswith(("==>", "  ")):
            say(line.rstrip("\n"))
    if process.wait() != 0:
        raise RuntimeError(f"converting the served model {served} failed:\n" + "\n".join(output[-30:]))
